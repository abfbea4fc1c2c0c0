// The hot-path caches (issue #11) stay bounded however many tokens, sessions, memberships and
// organizations pass through them, and keep serving the ones in use.

import { createMemoryBus, INVALIDATIONS_CHANNEL } from '@woopdi/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthCache, createAuthCache, membershipKey } from '../src/auth-cache.js';
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
