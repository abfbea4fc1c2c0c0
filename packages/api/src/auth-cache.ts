// The hot path's memory (DESIGN §10): verified access tokens, live sessions, memberships and
// organizations, per api instance, so an org-scoped read runs no query at all. Bus invalidations
// drop entries the moment any instance (or a worker) changes them — that is what keeps every
// instance fresh; the TTLs only bound the damage of an invalidation lost in a bus outage.
import { type EventBus, INVALIDATIONS_CHANNEL, type Invalidation } from '@woopdi/core';
import type { organizations } from '@woopdi/db';
import { LRUCache } from 'lru-cache';
import type { Session } from './context.js';
import type { CachedApiKey } from './middleware/api-key-auth.js';
import type { Membership } from './middleware/membership.js';
import type { AccessClaims } from './services/access-tokens.js';

export interface AuthCacheOptions {
  sessionTtlMs?: number;
  membershipTtlMs?: number;
  organizationTtlMs?: number;
  /** Entries per cache (each is an LRU). */
  max?: number;
}

/** The organization row as the hot path serves it. */
export type CachedOrganization = typeof organizations.$inferSelect;

export interface AuthCache {
  claims: LRUCache<string, AccessClaims>;
  sessions: LRUCache<string, Session>;
  /** `${userId}:${organizationId}` → membership, or `false` for "not a member". */
  memberships: LRUCache<string, Membership | false>;
  /** Live (not deleted) organizations by id. */
  organizations: LRUCache<string, CachedOrganization>;
  /** API keys by their public key id; dropped on revocation through the bus (never left to a TTL). */
  apiKeys: LRUCache<string, CachedApiKey>;
  /**
   * Counts the invalidations received. A loader reads it before its query and stores the result
   * only if it has not moved (`fresh`): a row read before a change committed, whose invalidation
   * arrived while the query ran, must not be cached after it (it would outlive the change).
   */
  readonly epoch: number;
  fresh(epoch: number | undefined): boolean;
  /** Resolves once invalidations are being received. */
  ready: Promise<void>;
  close(): void;
}

export const membershipKey = (userId: string, organizationId: string) => `${userId}:${organizationId}`;

/**
 * A cache of at most `max` entries. Bounded by lru-cache's `maxSize` (each entry sized 1) rather
 * than `max`, which preallocates its arrays for `max` entries up front: ~1.9 MB per cache at 50k,
 * held by every api process however few users it serves (issue #11, RSS).
 */
const bounded = <V extends {}>(max: number, ttl?: number) =>
  new LRUCache<string, V>({ maxSize: max, sizeCalculation: () => 1, ...(ttl && { ttl }) });

export function createAuthCache(bus: EventBus, options: AuthCacheOptions = {}): AuthCache {
  const max = options.max ?? 50_000;
  const claims = bounded<AccessClaims>(max);
  const sessions = bounded<Session>(max, options.sessionTtlMs ?? 30_000);
  const memberships = bounded<Membership | false>(max, options.membershipTtlMs ?? 30_000);
  const organizations = bounded<CachedOrganization>(max, options.organizationTtlMs ?? 30_000);
  const apiKeys = bounded<CachedApiKey>(max, options.sessionTtlMs ?? 30_000);

  let epoch = 0;
  const drop = (inv: Invalidation) => {
    epoch++;
    if (inv.type === 'apiKey') {
      for (const [keyId, k] of apiKeys.entries()) if (k.id === inv.apiKeyId) apiKeys.delete(keyId);
    } else if (inv.type === 'user') {
      for (const [sid, s] of sessions.entries()) if (s.userId === inv.userId) sessions.delete(sid);
      for (const key of memberships.keys()) if (key.startsWith(`${inv.userId}:`)) memberships.delete(key);
    } else {
      organizations.delete(inv.organizationId);
      // A deleted organization's keys stop working at once too.
      for (const [keyId, k] of apiKeys.entries())
        if (k.organizationId === inv.organizationId) apiKeys.delete(keyId);
      for (const key of memberships.keys())
        if (key.endsWith(`:${inv.organizationId}`)) memberships.delete(key);
    }
  };
  // Invalidations are rare (role changes, removals, sign-outs), so a scan of the cache is cheap.
  const subscription = bus.subscribe<Invalidation>(INVALIDATIONS_CHANNEL);
  void (async () => {
    for await (const inv of subscription) drop(inv);
  })().catch(() => {
    // Without invalidations the cache could serve stale permissions: stop using it.
    for (const cache of [sessions, memberships, organizations, apiKeys] as LRUCache<string, object>[]) {
      cache.clear();
      cache.set = () => cache as never;
    }
  });
  return {
    get epoch() {
      return epoch;
    },
    fresh: (seen) => seen === epoch,
    claims,
    sessions,
    memberships,
    organizations,
    apiKeys,
    ready: subscription.ready,
    close: () => subscription.close(),
  };
}
