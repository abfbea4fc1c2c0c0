// Issue #14, finding 8: a small body nested thousands of levels deep is refused with 400 and a
// message (JSON_MAX_DEPTH, default 64) on REST and tRPC, before it is parsed; never a 500.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jsonDepthExceeds } from '../src/json-depth.js';
import { call, leaksOf, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const nested = (levels: number) => `{"email":${'['.repeat(levels)}1${']'.repeat(levels)}}`;

it('counts depth on the raw bytes, ignoring brackets inside strings', () => {
  expect(jsonDepthExceeds(Buffer.from(nested(64)), 64)).toBe(true); // the object adds one
  expect(jsonDepthExceeds(Buffer.from(nested(63)), 64)).toBe(false);
  expect(jsonDepthExceeds(Buffer.from(`{"a":"${'['.repeat(500)}\\"["}`), 2)).toBe(false);
});

it('REST: 5,000 levels is 400 with a message, not a 500', async () => {
  const res = await call(`${server.url}/api/auth/login`, { body: nested(5000) });
  expect(res.status, res.text).toBe(400);
  expect(res.body).toEqual({
    code: 'BAD_REQUEST',
    message: expect.stringMatching(/nested more than 64 levels.*JSON_MAX_DEPTH/),
  });
  expect(leaksOf(res.text)).toEqual([]);
});

it('tRPC: the same body is 400 with the message', async () => {
  const res = await call(`${server.url}/trpc/auth.login`, { body: nested(5000) });
  expect(res.status, res.text).toBe(400);
  expect(res.text).toMatch(/nested more than 64 levels/);
  const batch = await call(`${server.url}/trpc/auth.login,auth.login?batch=1`, {
    body: `{"0":${nested(100)},"1":{}}`,
  });
  expect(batch.status).toBe(400);
});

it('ordinary bodies still go through on both', async () => {
  const email = uniqueEmail('depth');
  const signup = await call(`${server.url}/api/auth/signup`, { body: { email, password: PASSWORD } });
  expect(signup.status, signup.text).toBe(200);
  const login = await call(`${server.url}/trpc/auth.login`, { body: { email, password: PASSWORD } });
  expect(login.status, login.text).toBe(200);
});

it('tRPC GET: a deep input in the query string is never a 500', async () => {
  const input = encodeURIComponent(`{"0":${'['.repeat(3000)}${']'.repeat(3000)}}`);
  const res = await call(`${server.url}/trpc/invitations.details?batch=1&input=${input}`);
  expect(res.status, res.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(leaksOf(res.text)).toEqual([]);
});
