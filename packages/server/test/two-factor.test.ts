// Two-factor over real HTTP: REST sign-in with its second step, and an organization's
// requireTwoFactor enforced on the hot path (GET /api/organizations/{id} and the tRPC GET lane,
// both answered from the per-instance caches) the moment it changes — through bus invalidation.
import { memberships } from '@woopdi/db';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  type JsonResponse,
  PASSWORD,
  startTestServer,
  type TestServer,
  uniqueEmail,
} from './helpers.js';
import { undocumentedAnswers } from './openapi-conformance.js';

interface Tokens {
  accessToken: string;
  refreshToken: string;
}
interface AuthBody {
  user: { id: string; email: string };
  tokens: Tokens;
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const rest = <T = Record<string, unknown>>(path: string, init: Parameters<typeof call>[1] = {}) =>
  call<T>(`${server.url}/api${path}`, init);

const codeAt = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSteps * 30_000,
  });

async function signup(prefix: string) {
  const email = uniqueEmail(prefix);
  const res = await rest<AuthBody>('/auth/signup', { body: { email, password: PASSWORD } });
  expect(res.status, res.text).toBe(200);
  return { email, id: res.body.user.id, token: res.body.tokens.accessToken };
}

async function turnOn(token: string) {
  const enrolled = await rest<{ secret: string; otpauthUri: string }>('/auth/2fa/enroll', {
    method: 'POST',
    token,
  });
  expect(enrolled.status, enrolled.text).toBe(200);
  const confirmed = await rest<{ recoveryCodes: string[] }>('/auth/2fa/confirm', {
    body: { code: codeAt(enrolled.body.secret) },
    token,
  });
  expect(confirmed.status, confirmed.text).toBe(200);
  return { secret: enrolled.body.secret, recoveryCodes: confirmed.body.recoveryCodes };
}

/** Asks again until the answer has `status` (a bus invalidation reaches the cache asynchronously). */
async function eventually(ask: () => Promise<JsonResponse>, status: number): Promise<JsonResponse> {
  let last = await ask();
  for (let i = 0; i < 200 && last.status !== status; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    last = await ask();
  }
  return last;
}

describe('two-factor over REST', () => {
  it('login answers a challenge, /auth/2fa/verify the tokens; a reused challenge is a 401', async () => {
    const person = await signup('tf-rest');
    const { secret } = await turnOn(person.token);
    const login = await rest<{ twoFactorRequired: boolean; challengeToken: string }>('/auth/login', {
      body: { email: person.email, password: PASSWORD },
    });
    expect(login.status, login.text).toBe(200);
    expect(login.body).toMatchObject({ twoFactorRequired: true });
    expect(login.body).not.toHaveProperty('tokens');

    const verified = await rest<AuthBody>('/auth/2fa/verify', {
      body: { challengeToken: login.body.challengeToken, code: codeAt(secret, 1) },
    });
    expect(verified.status, verified.text).toBe(200);
    const me = await rest<{ twoFactorEnabled: boolean }>('/user/me', {
      token: verified.body.tokens.accessToken,
    });
    expect(me.body.twoFactorEnabled).toBe(true);

    const again = await rest<{ message: string }>('/auth/2fa/verify', {
      body: { challengeToken: login.body.challengeToken, code: codeAt(secret, -1) },
    });
    expect(again.status).toBe(401);
    expect(again.body.message).toMatch(/sign in again/);
    const bad = await rest('/auth/2fa/verify', { body: { challengeToken: login.body.challengeToken } });
    expect(bad.status).toBe(400);
  });

  it('requireTwoFactor blocks a member without it on that organization only, on the hot path, at once', async () => {
    const owner = await signup('tf-owner');
    const org = await rest<{ id: string }>('/organizations/create-organization', {
      body: { name: 'Hot Path Strict' },
      token: owner.token,
    });
    const member = await signup('tf-member');
    await server.deps.db
      .insert(memberships)
      .values({ organizationId: org.body.id, userId: member.id, role: 'MEMBER' });
    const solo = (
      await rest<{ memberships: { organizationId: string; isSolo: boolean }[] }>(
        '/user/memberships?includeSolo=true',
        { token: member.token },
      )
    ).body.memberships.find((m) => m.isSolo)!;

    const getOrg = () => rest(`/organizations/${org.body.id}`, { token: member.token });
    const getOrgTrpc = () =>
      call(
        `${server.url}/trpc/organizations.get?input=${encodeURIComponent(JSON.stringify({ organizationId: org.body.id }))}`,
        { token: member.token },
      );
    // Cached as allowed first.
    expect((await getOrg()).status).toBe(200);
    expect((await getOrgTrpc()).status).toBe(200);

    const refused = await rest<{ message: string }>(`/organizations/${org.body.id}`, {
      method: 'PUT',
      body: { requireTwoFactor: true },
      token: owner.token,
    });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/Turn on two-factor for your own account first/);
    await turnOn(owner.token);
    const required = await rest<{ requireTwoFactor: boolean }>(`/organizations/${org.body.id}`, {
      method: 'PUT',
      body: { requireTwoFactor: true },
      token: owner.token,
    });
    expect(required.status, required.text).toBe(200);
    expect(required.body.requireTwoFactor).toBe(true);

    const blocked = await eventually(getOrg, 403);
    expect(blocked.status).toBe(403);
    expect((blocked.body as { message: string }).message).toMatch(/POST \/api\/auth\/2fa\/enroll/);
    expect((await eventually(getOrgTrpc, 403)).status).toBe(403);
    // Their own organization still answers.
    expect((await rest(`/organizations/${solo.organizationId}`, { token: member.token })).status).toBe(200);
    // The owner (with two-factor) still gets in.
    expect((await rest(`/organizations/${org.body.id}`, { token: owner.token })).status).toBe(200);

    await turnOn(member.token);
    expect((await eventually(getOrg, 200)).status).toBe(200);
    const listed = await rest<{ members: { userId: string; twoFactorEnabled: boolean }[] }>(
      `/organization-users/${org.body.id}`,
      { token: owner.token },
    );
    expect(listed.body.members.every((m) => m.twoFactorEnabled)).toBe(true);
  });

  it('every answer is one the OpenAPI document describes', async () => {
    const { problems, seen } = await undocumentedAnswers(server.url);
    expect(seen.has('auth-twoFactor-verify')).toBe(true);
    expect(problems).toEqual([]);
  });
});
