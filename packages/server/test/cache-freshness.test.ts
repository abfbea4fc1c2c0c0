// The hot path caches verified tokens, sessions, memberships and organizations per api instance
// (issue #11). Freshness comes from bus invalidations, not from waiting out a TTL: with two real
// api processes on one database and Redis, every change made through one instance is seen by the
// other on its next requests, well within a second.
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { redisTestUrl } from '@woopdi/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { type Api, restCall as rest, spawnApi, waitReady } from './processes.js';

const redisUrl = redisTestUrl();
const JWT_SECRET = 'cache-freshness-test-value-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';

/** Polls `probe` on the other instance until it holds; returns how long that took (ms). */
async function seenWithin(probe: () => Promise<boolean>, limitMs = 1_000): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > limitMs) throw new Error(`not seen within ${limitMs} ms`);
  }
  return performance.now() - started;
}

describe.skipIf(!redisUrl)('the hot-path caches across two api processes', () => {
  let deps: TestDeps;
  let a: Api;
  let b: Api;
  let counter = 0;

  const signup = async () => {
    const email = `fresh-${process.pid}-${++counter}@example.com`;
    const res = await rest<{ user: { id: string }; tokens: { accessToken: string } }>(
      a.url,
      'POST',
      '/auth/signup',
      undefined,
      {
        email,
        password: PASSWORD,
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { userId: res.body.user.id, token: res.body.tokens.accessToken };
  };

  /** An owner's team organization with one more member (MEMBER), both caches warmed on b. */
  const world = async () => {
    const owner = await signup();
    const member = await signup();
    const org = await rest<{ id: string }>(a.url, 'POST', '/organizations/create-organization', owner.token, {
      name: `Fresh ${counter}`,
    });
    expect(org.status).toBe(200);
    await deps.sql`insert into memberships (organization_id, user_id, role) values (${org.body.id}, ${member.userId}, 'MEMBER')`;
    for (let i = 0; i < 3; i++) {
      expect((await rest(b.url, 'GET', `/organizations/${org.body.id}`, member.token)).status).toBe(200);
    }
    return { owner, member, organizationId: org.body.id };
  };

  beforeAll(async () => {
    deps = await createTestDeps();
    const env = {
      DATABASE_URL: deps.databaseUrl,
      REDIS_URL: redisUrl ?? '',
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      RATE_LIMIT_SIGNUP: '10000/60',
      RATE_LIMIT_LOGIN: '10000/60',
    };
    a = spawnApi(env, await freePort());
    b = spawnApi(env, await freePort());
    await Promise.all([waitReady(a), waitReady(b)]);
  }, 90_000);

  afterAll(async () => {
    for (const api of [a, b]) api?.child.kill('SIGTERM');
    await deps?.close();
  });

  it('a rename through one instance is served by the other', async () => {
    const { owner, member, organizationId } = await world();
    expect(
      (await rest(a.url, 'PUT', `/organizations/${organizationId}`, owner.token, { name: 'Renamed' })).status,
    ).toBe(200);
    const ms = await seenWithin(async () => {
      const res = await rest<{ name: string }>(
        b.url,
        'GET',
        `/organizations/${organizationId}`,
        member.token,
      );
      return res.body.name === 'Renamed';
    });
    console.info(`cache-freshness: rename seen by the other instance after ${ms.toFixed(1)} ms`);
  });

  it('a role change through one instance is served by the other', async () => {
    const { owner, member, organizationId } = await world();
    const promoted = await rest(
      a.url,
      'PUT',
      `/organization-users/${organizationId}/${member.userId}`,
      owner.token,
      {
        role: 'MODERATOR',
      },
    );
    expect(promoted.status).toBe(200);
    await seenWithin(async () => {
      const res = await rest<{ role: string }>(
        b.url,
        'GET',
        `/organizations/${organizationId}`,
        member.token,
      );
      return res.body.role === 'MODERATOR';
    });
  });

  it('a removed member is refused by the other instance', async () => {
    const { owner, member, organizationId } = await world();
    expect(
      (await rest(a.url, 'DELETE', `/organization-users/${organizationId}/${member.userId}`, owner.token))
        .status,
    ).toBe(200);
    await seenWithin(
      async () => (await rest(b.url, 'GET', `/organizations/${organizationId}`, member.token)).status === 403,
    );
  });

  it('a revoked session is refused by the other instance', async () => {
    const { member, organizationId } = await world();
    expect((await rest(a.url, 'POST', '/auth/logout', member.token, {})).status).toBe(200);
    await seenWithin(
      async () => (await rest(b.url, 'GET', `/organizations/${organizationId}`, member.token)).status === 401,
    );
  });

  it('a disabled user is refused by the other instance', async () => {
    const { member, organizationId } = await world();
    const admin = await signup();
    await deps.sql`update users set system_role = 'superadmin' where id = ${admin.userId}`;
    const disabled = await rest(a.url, 'POST', `/admin/users/${member.userId}/disable`, admin.token, {});
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    await seenWithin(
      async () => (await rest(b.url, 'GET', `/organizations/${organizationId}`, member.token)).status === 401,
    );
  });
});
