// Issue #14, finding 2, on the shared (Redis) limiter every api instance counts with: concurrent
// logins for one account are counted atomically before the password check.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, PASSWORD, signUp, uniqueEmail } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps({ RATE_LIMIT_LOGIN: '5/60', RATE_LIMIT_LOGIN_ADDRESS: '100/60' });
});
afterAll(() => deps.close());

it('12 concurrent logins for one account: 5 reach the password check, the right password last is refused', async () => {
  const { email } = await signUp(deps, uniqueEmail('concurrent'));
  const anon = callerFor(deps);
  const codes = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      codeOf(anon.auth.login({ email, password: i === 11 ? PASSWORD : `wrong password ${i}` })),
    ),
  );
  expect(codes.filter((c) => c === 'UNAUTHORIZED')).toHaveLength(5);
  expect(codes.filter((c) => c === 'TOO_MANY_REQUESTS')).toHaveLength(7);
  expect(codes[11]).toBe('TOO_MANY_REQUESTS');
});

it('a right password gives its attempt back: many sign-ins in a row all succeed', async () => {
  const { email } = await signUp(deps, uniqueEmail('regular'));
  const anon = callerFor(deps);
  const codes = await Promise.all(
    Array.from({ length: 5 }, () => codeOf(anon.auth.login({ email, password: PASSWORD }))),
  );
  expect(codes).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
  for (let i = 0; i < 5; i++) expect(await codeOf(anon.auth.login({ email, password: PASSWORD }))).toBe('OK');
});
