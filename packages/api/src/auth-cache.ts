// The hot path's memory (DESIGN §10): verified access tokens, live sessions, memberships and
// organizations, per api instance, so an org-scoped read runs no query at all. Bus invalidations
// drop entries the moment any instance (or a worker) changes them — that is what keeps every
// instance fresh; the TTLs only bound the damage of an invalidation lost in a bus outage.
import { type EventBus, INVALIDATIONS_CHANNEL, type Invalidation } from '@woopdi/core';
import type { organizations } from '@woopdi/db';
import { LRUCache, type Perf } from 'lru-cache';
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
  claims: RefreshingCache<AccessClaims>;
  sessions: RefreshingCache<Session>;
  /** `${userId}:${organizationId}` → membership, or `false` for "not a member". */
  memberships: RefreshingCache<Membership | false>;
  /** Live (not deleted) organizations by id. */
  organizations: RefreshingCache<CachedOrganization>;
  /** API keys by their public key id; dropped on revocation through the bus (never left to a TTL). */
  apiKeys: RefreshingCache<CachedApiKey>;
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
 *
 * With a `ttl`, a key in use never expires on a request's path: a hit in the last eighth of the
 * TTL is served (still within it) and reloaded once in the background (`refreshAhead`), and each
 * entry lives between three quarters and all of the TTL, drawn when it is set (an explicit per-set
 * ttl wins), so entries filled together do not come due together. Measured under steady load
 * before this: every 30 s, ~1,300 requests over 3 s waited on their reloads (up to 89 ms).
 */
export class RefreshingCache<V extends {}> extends LRUCache<string, V> {
  readonly #ttl: number;
  readonly #epoch: () => number;
  readonly #reloading = new Set<string>();
  /** `clock` replaces `performance` (tests step it by hand; every read then goes to it). */
  constructor(max: number, ttl: number | undefined, epoch: () => number, clock?: Perf) {
    super({
      maxSize: max,
      sizeCalculation: () => 1,
      ...(ttl && { ttl }),
      ...(clock && { perf: clock, ttlResolution: 0 }),
    });
    this.#ttl = ttl ?? 0;
    this.#epoch = epoch;
  }
  override set(key: string, value: V | undefined, options?: LRUCache.SetOptions<string, V, unknown>) {
    if (!this.#ttl || options?.ttl !== undefined) return super.set(key, value, options);
    return super.set(key, value, { ...options, ttl: Math.ceil(this.#ttl * (0.75 + Math.random() / 4)) });
  }
  /**
   * Call after a hit on `key`. Near its end, `load` runs in the background: its value replaces the
   * entry, `undefined` or a failure drops it (the next request loads it itself and answers the
   * error). An invalidation that arrives during the load wins: the result is not kept.
   */
  refreshAhead(key: string, load: () => Promise<V | undefined>): void {
    if (!this.#ttl || this.#reloading.has(key)) return;
    // 0: gone (expired or never set): the request path loads it, not a background reload.
    const left = this.getRemainingTTL(key);
    if (left <= 0 || left > this.#ttl / 8) return;
    this.#reloading.add(key);
    const epoch = this.#epoch();
    load()
      .then(
        (value) => {
          if (this.#epoch() !== epoch) return;
          if (value === undefined) this.delete(key);
          else this.set(key, value);
        },
        () => this.delete(key),
      )
      .finally(() => this.#reloading.delete(key));
  }
}

export function createAuthCache(bus: EventBus, options: AuthCacheOptions = {}): AuthCache {
  const max = options.max ?? 50_000;
  let epoch = 0;
  const bounded = <V extends {}>(size: number, ttl?: number) =>
    new RefreshingCache<V>(size, ttl, () => epoch);
  const claims = bounded<AccessClaims>(max);
  const sessions = bounded<Session>(max, options.sessionTtlMs ?? 30_000);
  const memberships = bounded<Membership | false>(max, options.membershipTtlMs ?? 30_000);
  const organizations = bounded<CachedOrganization>(max, options.organizationTtlMs ?? 30_000);
  const apiKeys = bounded<CachedApiKey>(max, options.sessionTtlMs ?? 30_000);

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
