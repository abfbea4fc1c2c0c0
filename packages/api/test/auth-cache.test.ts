// The hot-path caches (issue #11) stay bounded however many tokens, sessions, memberships and
// organizations pass through them, and keep serving the ones in use.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthCache, createAuthCache } from '../src/auth-cache.js';
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
