// Issue #14, finding 2: the login limit holds under concurrency. Attempts are counted before the
// password check (and given back when it succeeds), per account and per client address, so a
// burst — one tRPC batch, or parallel REST requests — lets only the allowed number reach the
// password check, and the right password beyond the limit is refused with 429 and Retry-After.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';
import { undocumentedAnswers } from './openapi-conformance.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ RATE_LIMIT_LOGIN: '5/60', RATE_LIMIT_LOGIN_ADDRESS: '8/60' });
});
afterAll(() => server?.close());

async function signup(email = uniqueEmail('burst')) {
  const res = await call(`${server.url}/api/auth/signup`, { body: { email, password: PASSWORD } });
  expect(res.status, res.text).toBe(200);
  return email;
}

/** 11 wrong passwords, then the right one. */
const burst = (email: string) =>
  Array.from({ length: 12 }, (_, i) => ({ email, password: i === 11 ? PASSWORD : `wrong password ${i}` }));

/** Logins from their own client address (trusted proxy on loopback: X-Forwarded-For counts). */
const from = (address: string) => ({ 'x-forwarded-for': address });

describe('login attempts under concurrency', () => {
  it('one tRPC batch of 12 logins: 5 reach the password check, the right password 12th is refused', async () => {
    const email = await signup();
    const inputs = burst(email);
    const paths = inputs.map(() => 'auth.login').join(',');
    const res = await fetch(`${server.url}/trpc/${paths}?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...from('198.51.100.1') },
      body: JSON.stringify(Object.fromEntries(inputs.map((input, i) => [i, input]))),
    });
    const results = (await res.json()) as Array<{
      result?: unknown;
      error?: { data: { httpStatus: number; code: string } };
    }>;
    const statuses = results.map((r) => (r.result ? 200 : r.error!.data.httpStatus));
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    // And afterwards too, from another address: the account's limit holds for everyone.
    const again = await call(`${server.url}/api/auth/login`, {
      body: { email, password: PASSWORD },
      headers: from('198.51.100.2'),
    });
    expect(again.status, again.text).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(again.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(again.body.message).toMatch(/too many failed sign-in attempts.*try again in \d+ seconds/i);
  });

  it('12 parallel REST logins: exactly 5 reach the password check, the other 7 are 429', async () => {
    const email = await signup();
    const answers = await Promise.all(
      burst(email).map((body) =>
        call(`${server.url}/api/auth/login`, { body, headers: from('198.51.100.3') }),
      ),
    );
    const checked = answers.filter((a) => a.status !== 429);
    expect(checked).toHaveLength(5);
    for (const a of answers.filter((a) => a.status === 429)) {
      expect(a.body.code).toBe('TOO_MANY_REQUESTS');
      expect(a.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    const right = await call(`${server.url}/api/auth/login`, {
      body: { email, password: PASSWORD },
      headers: from('198.51.100.3'),
    });
    expect(right.status).toBe(429);
  });

  it('per client address: failures across many accounts from one address are capped', async () => {
    const emails = await Promise.all(Array.from({ length: 10 }, () => signup()));
    const answers = await Promise.all(
      emails.map((email) =>
        call(`${server.url}/api/auth/login`, {
          body: { email, password: 'wrong password' },
          headers: from('198.51.100.4'),
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 401)).toHaveLength(8);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(2);
    expect(answers.find((a) => a.status === 429)!.body.message).toMatch(/from this address/);
    // The same accounts still sign in from elsewhere.
    const ok = await call(`${server.url}/api/auth/login`, {
      body: { email: emails[0], password: PASSWORD },
      headers: from('198.51.100.5'),
    });
    expect(ok.status, ok.text).toBe(200);
  });

  it('successful logins give their attempts back', async () => {
    const email = await signup();
    for (let i = 0; i < 8; i++) {
      const res = await call(`${server.url}/api/auth/login`, {
        body: { email, password: PASSWORD },
        headers: from('198.51.100.6'),
      });
      expect(res.status, res.text).toBe(200);
    }
  });
});

describe('the OpenAPI document', () => {
  it('lists every status this file saw, each body matching its schema', async () => {
    const { problems, seen } = await undocumentedAnswers(server.url);
    expect(seen.size).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  });
});
