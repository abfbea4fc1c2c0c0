// The hot-path caches (issue #11) stay bounded however many tokens, sessions, memberships and
// organizations pass through them, and keep serving the ones in use.

import { createMemoryBus, INVALIDATIONS_CHANNEL } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthCache, createAuthCache, membershipKey, RefreshingCache } from '../src/auth-cache.js';
import { findMembership } from '../src/middleware/membership.js';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { signUp } from './fixtures.js';

let deps: TestDeps;
let cache: AuthCache;
const MAX = 5;
beforeAll(async () => {
  deps = await createTestDeps();
  cache = createAuthCache(deps.bus, { max: MAX });
  await cache.ready;
});
afterAll(async () => {
  cache.close();
  await deps.close();
});

it('holds at most its bound of each kind of entry, filled past it through real requests', async () => {
  const users = [];
  for (let i = 0; i < MAX * 3; i++) users.push(await signUp(deps));
  for (const user of users) {
    const api = callerFor({ ...deps, authCache: cache } as TestDeps, user.tokens.accessToken);
    const [solo] = (await api.users.memberships({ includeSolo: true })).memberships;
    const org = await api.organizations.get({ organizationId: solo!.organizationId });
    expect(org.id).toBe(solo!.organizationId);
  }
  for (const part of [cache.claims, cache.sessions, cache.memberships, cache.organizations]) {
    expect(part.size).toBeGreaterThan(0);
    expect(part.size).toBeLessThanOrEqual(MAX);
  }
  // The most recent caller is still served from the cache.
  const last = users.at(-1)!;
  expect(cache.claims.has(last.tokens.accessToken)).toBe(true);
});

it('does not keep a row read before a change whose invalidation arrived while the query ran', async () => {
  const memoryBus = createMemoryBus();
  const local = createAuthCache(memoryBus);
  await local.ready;
  try {
    const user = await signUp(deps);
    const [solo] = (await callerFor(deps, user.tokens.accessToken).users.memberships({ includeSolo: true }))
      .memberships;
    const ctx = { db: deps.db, authCache: local };
    // The query is in flight (a round trip to Postgres) when the invalidation is delivered.
    const loading = findMembership(ctx, user.user.id, solo!.organizationId);
    await memoryBus.publish(INVALIDATIONS_CHANNEL, { type: 'user', userId: user.user.id });
    expect((await loading)?.organizationId).toBe(solo!.organizationId);
    expect(local.memberships.has(membershipKey(user.user.id, solo!.organizationId))).toBe(false);
    // With nothing invalidated meanwhile, the next read is kept.
    await findMembership(ctx, user.user.id, solo!.organizationId);
    expect(local.memberships.has(membershipKey(user.user.id, solo!.organizationId))).toBe(true);
  } finally {
    local.close();
  }
});

it('entries set together expire spread over the last quarter of their TTL, not all at once', async () => {
  const local = createAuthCache(createMemoryBus(), { sessionTtlMs: 30_000, organizationTtlMs: 30_000 });
  await local.ready;
  try {
    for (let i = 0; i < 200; i++) local.organizations.set(`org-${i}`, { id: `org-${i}` } as never);
    const left = [...Array(200).keys()].map((i) => local.organizations.getRemainingTTL(`org-${i}`));
    expect(Math.min(...left)).toBeGreaterThanOrEqual(22_500 - 50);
    expect(Math.max(...left)).toBeLessThanOrEqual(30_000);
    // Spread, not one instant: 200 uniform draws over 7.5 s span well over a third of it.
    expect(Math.max(...left) - Math.min(...left)).toBeGreaterThan(2_500);
    // A ttl given with the entry is kept as given (the claims cache sets the token's own expiry).
    local.sessions.set('given', { userId: 'u' } as never, { ttl: 1_000 });
    expect(local.sessions.getRemainingTTL('given')).toBeLessThanOrEqual(1_000);
  } finally {
    local.close();
  }
});

describe('refresh ahead: a key in use is reloaded before it expires, off the request path', () => {
  // A clock stepped by hand, and loads resolved by hand: nothing here depends on how fast the
  // machine runs (CI runs every package's tests at once on two cores).
  // TTL 2 s: the last eighth (250 ms) is the refresh window; the entry is set with 300 ms to go.
  const setup = () => {
    const epoch = { n: 0 };
    const clock = { t: 1_000, now: () => clock.t };
    const cache = new RefreshingCache<{ v: number }>(10, 2_000, () => epoch.n, clock);
    cache.set('a', { v: 1 }, { ttl: 300 });
    return { epoch, clock, cache };
  };
  const deferred = <T>() => {
    let resolve!: (value: T) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  // Lets the cache's .then/.finally callbacks run.
  const settle = () => new Promise((r) => setImmediate(r));

  it('reloads once, near the end, and the fresh value starts a new life', async () => {
    const { cache, clock } = setup();
    const reply = deferred<{ v: number }>();
    let calls = 0;
    const load = () => {
      calls++;
      return reply.promise;
    };
    cache.refreshAhead('a', load);
    expect(calls).toBe(0); // 300 ms left: not due
    clock.t += 100;
    cache.refreshAhead('a', load);
    cache.refreshAhead('a', load);
    expect(calls).toBe(1); // due, and one reload however many hits
    expect(cache.get('a')).toEqual({ v: 1 }); // served meanwhile
    reply.resolve({ v: 2 });
    await settle();
    expect(cache.get('a')).toEqual({ v: 2 });
    expect(cache.getRemainingTTL('a')).toBeGreaterThanOrEqual(1_500); // a new life: 75–100% of 2 s
    // Its reload is over, so the next due hit reloads again.
    clock.t += cache.getRemainingTTL('a') - 100;
    cache.refreshAhead('a', load);
    expect(calls).toBe(2);
  });

  it('a reload that finds nothing, or fails, drops the entry', async () => {
    for (const outcome of ['nothing', 'failure'] as const) {
      const { cache, clock } = setup();
      const reply = deferred<{ v: number } | undefined>();
      clock.t += 100;
      cache.refreshAhead('a', () => reply.promise);
      expect(cache.has('a')).toBe(true);
      if (outcome === 'nothing') reply.resolve(undefined);
      else reply.reject(new Error('database down'));
      await settle();
      expect(cache.has('a')).toBe(false);
    }
  });

  it('an invalidation during the reload wins: its result is not kept', async () => {
    const { cache, clock, epoch } = setup();
    const reply = deferred<{ v: number }>();
    clock.t += 100;
    cache.refreshAhead('a', () => reply.promise);
    epoch.n++; // an invalidation arrives while the reload's query runs
    reply.resolve({ v: 2 });
    await settle();
    expect(cache.get('a')).toEqual({ v: 1 });
  });

  it('an entry past its TTL, or never set, is not reloaded in the background', async () => {
    const { cache, clock } = setup();
    let calls = 0;
    const load = async () => {
      calls++;
      return { v: 2 };
    };
    clock.t += 301;
    cache.refreshAhead('a', load);
    cache.refreshAhead('never-set', load);
    await settle();
    expect(calls).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });
});
