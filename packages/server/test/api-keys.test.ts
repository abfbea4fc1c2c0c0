// Organization API keys against two real api processes on one database and Redis: a key works over
// REST and tRPC HTTP on either instance, carries RateLimit-* headers and is limited per key, is
// refused by user-only procedures, and once revoked through one instance the other answers 401
// within a second (a bus invalidation, not a TTL). The secret never reaches either process's logs.
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { redisTestUrl } from '@woopdi/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { type Api, restCall as rest, spawnApi, waitReady } from './processes.js';

const redisUrl = redisTestUrl();
const JWT_SECRET = 'api-keys-test-value-0123456789abcdef-xyz';
const PASSWORD = 'correct horse battery staple';
const LIMIT = 20;

const withKey = (key: string) => ({ authorization: `Bearer ${key}` });

describe.skipIf(!redisUrl)('organization API keys on two api processes', () => {
  let deps: TestDeps;
  let a: Api;
  let b: Api;
  let ownerToken: string;
  let organizationId: string;
  let otherOrganizationId: string;
  const secrets: string[] = [];

  const signup = async (email: string) => {
    const res = await rest<{ user: { id: string }; tokens: { accessToken: string } }>(
      a.url,
      'POST',
      '/auth/signup',
      undefined,
      { email, password: PASSWORD },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.tokens.accessToken;
  };

  const newKey = async (role = 'ADMIN') => {
    const res = await rest<{ key: string; apiKey: { id: string; prefix: string } }>(
      a.url,
      'POST',
      `/organizations/${organizationId}/api-keys`,
      ownerToken,
      { name: `key ${secrets.length}`, role },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    secrets.push(res.body.key.split('_')[2]!);
    return res.body;
  };

  beforeAll(async () => {
    deps = await createTestDeps();
    const env = {
      DATABASE_URL: deps.databaseUrl,
      REDIS_URL: redisUrl ?? '',
      JWT_SECRET,
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      RATE_LIMIT_SIGNUP: '10000/60',
      RATE_LIMIT_API_KEY: `${LIMIT}/60`,
    };
    a = spawnApi(env, await freePort());
    b = spawnApi(env, await freePort());
    await Promise.all([waitReady(a), waitReady(b)]);
    ownerToken = await signup(`keys-owner-${process.pid}@example.com`);
    const org = await rest<{ id: string }>(a.url, 'POST', '/organizations/create-organization', ownerToken, {
      name: 'Machine Access Co',
    });
    organizationId = org.body.id;
    const strangerToken = await signup(`keys-stranger-${process.pid}@example.com`);
    const other = await rest<{ id: string }>(
      a.url,
      'POST',
      '/organizations/create-organization',
      strangerToken,
      {
        name: 'Someone Else',
      },
    );
    otherOrganizationId = other.body.id;
  }, 90_000);

  afterAll(async () => {
    for (const api of [a, b]) api?.child.kill('SIGTERM');
    await deps?.close();
  });

  it('works over REST and tRPC HTTP on both instances, with RateLimit-* headers', async () => {
    const { key } = await newKey();
    for (const api of [a, b]) {
      const res = await fetch(`${api.url}/api/organizations/${organizationId}`, { headers: withKey(key) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(organizationId);
      expect(res.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      expect(Number(res.headers.get('ratelimit-remaining'))).toBeLessThan(LIMIT);
      expect(res.headers.get('ratelimit-policy')).toBe(`${LIMIT};w=60`);
    }
    // A tRPC query (answered by the hot path) and a tRPC mutation (through the adapter).
    const input = encodeURIComponent(JSON.stringify({ organizationId }));
    const query = await fetch(`${b.url}/trpc/tasks.list?input=${input}`, { headers: withKey(key) });
    expect(query.status).toBe(200);
    expect(query.headers.get('ratelimit-limit')).toBe(String(LIMIT));
    const mutation = await fetch(`${b.url}/trpc/organizations.update`, {
      method: 'POST',
      headers: { ...withKey(key), 'content-type': 'application/json' },
      body: JSON.stringify({ organizationId, name: 'Renamed by its key' }),
    });
    expect(mutation.status).toBe(200);
    expect(mutation.headers.get('ratelimit-remaining')).not.toBeNull();
  });

  it("refuses user-only procedures (403) and another organization's (403)", async () => {
    const { key } = await newKey();
    const me = await rest<{ message: string }>(b.url, 'GET', '/user/me', key);
    expect(me.status).toBe(403);
    expect(me.body.message).toContain('API keys act for an organization');
    const create = await rest(b.url, 'POST', '/organizations/create-organization', key, { name: 'By a key' });
    expect(create.status).toBe(403);
    const other = await rest<{ message: string }>(b.url, 'GET', `/organizations/${otherOrganizationId}`, key);
    expect(other.status).toBe(403);
    expect(other.body.message).toBe('You are not a member of this organization.');
    const unknown = await rest(
      b.url,
      'GET',
      `/organizations/${organizationId}`,
      `wpd_${'0'.repeat(16)}_${'1'.repeat(64)}`,
    );
    expect(unknown.status).toBe(401);
  });

  it('answers 429 with Retry-After past the per-key limit, counted across instances', async () => {
    const { key } = await newKey('MEMBER');
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < LIMIT + 1; i++) {
      last = await fetch(`${(i % 2 ? a : b).url}/api/organizations/${organizationId}`, {
        headers: withKey(key),
      });
      statuses.push(last.status);
      await last.arrayBuffer();
    }
    expect(statuses.slice(0, LIMIT).every((s) => s === 200)).toBe(true);
    expect(statuses[LIMIT]).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.headers.get('ratelimit-remaining')).toBe('0');
    // Another key is not affected.
    const other = await newKey('MEMBER');
    expect((await rest(b.url, 'GET', `/organizations/${organizationId}`, other.key)).status).toBe(200);
  });

  it('a key revoked through one instance is refused (401) by the other within a second', async () => {
    const { key, apiKey } = await newKey();
    for (let i = 0; i < 3; i++) {
      expect((await rest(b.url, 'GET', `/organizations/${organizationId}`, key)).status).toBe(200);
    }
    const revoked = await rest(
      a.url,
      'DELETE',
      `/organizations/${organizationId}/api-keys/${apiKey.id}`,
      ownerToken,
    );
    expect(revoked.status).toBe(200);
    const started = performance.now();
    let status = 200;
    while (status === 200) {
      status = (await rest(b.url, 'GET', `/organizations/${organizationId}`, key)).status;
      if (performance.now() - started > 1_000) break;
    }
    expect(status).toBe(401);
    console.info(
      `api-keys: revocation seen by the other instance after ${(performance.now() - started).toFixed(1)} ms`,
    );
  });

  it('never writes a key secret to either process log', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const logs = a.output() + b.output();
    expect(logs).toContain('request completed');
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });
});
