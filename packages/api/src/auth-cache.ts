// The hot path's memory (DESIGN §10): verified access tokens, live sessions and memberships, per
// api instance. Bus invalidations drop entries the moment another instance changes them; short TTLs
// bound the staleness if an invalidation is ever lost (a revoked session is refused within 1 s).
import { type EventBus, INVALIDATIONS_CHANNEL, type Invalidation } from '@woopdi/core';
import { LRUCache } from 'lru-cache';
import type { Session } from './context.js';
import type { Membership } from './middleware/membership.js';
import type { AccessClaims } from './services/access-tokens.js';

export interface AuthCacheOptions {
  sessionTtlMs?: number;
  membershipTtlMs?: number;
  max?: number;
}

export interface AuthCache {
  claims: LRUCache<string, AccessClaims>;
  sessions: LRUCache<string, Session>;
  /** `${userId}:${organizationId}` → membership, or `false` for "not a member". */
  memberships: LRUCache<string, Membership | false>;
  /** Resolves once invalidations are being received. */
  ready: Promise<void>;
  close(): void;
}

export const membershipKey = (userId: string, organizationId: string) => `${userId}:${organizationId}`;

export function createAuthCache(bus: EventBus, options: AuthCacheOptions = {}): AuthCache {
  const max = options.max ?? 50_000;
  const claims = new LRUCache<string, AccessClaims>({ max });
  const sessions = new LRUCache<string, Session>({ max, ttl: options.sessionTtlMs ?? 1_000 });
  const memberships = new LRUCache<string, Membership | false>({
    max,
    ttl: options.membershipTtlMs ?? 30_000,
  });

  const drop = (inv: Invalidation) => {
    if (inv.type === 'user') {
      for (const [sid, s] of sessions.entries()) if (s.userId === inv.userId) sessions.delete(sid);
      for (const key of memberships.keys()) if (key.startsWith(`${inv.userId}:`)) memberships.delete(key);
    } else {
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
    sessions.clear();
    memberships.clear();
    sessions.set = () => sessions;
    memberships.set = () => memberships;
  });
  return {
    claims,
    sessions,
    memberships,
    ready: subscription.ready,
    close: () => subscription.close(),
  };
}
