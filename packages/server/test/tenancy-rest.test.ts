// Tenancy over real HTTP (REST under /api, plain fetch): the invitation lifecycle end to end, the
// login rate limit with Retry-After, and the admin area's refusal for a plain user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  type JsonResponse,
  leaksOf,
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
  user: { id: string; email: string; emailVerified: boolean };
  tokens: Tokens;
}
interface ErrorBody {
  message: string;
  code: string;
}
interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
}

let server: TestServer;
/** Every error answer seen in this file, checked for leaks at the end. */
const errorAnswers: { what: string; res: JsonResponse }[] = [];

async function rest<T = Record<string, unknown>>(path: string, init: Parameters<typeof call>[1] = {}) {
  const res = await call<T>(`${server.url}/api${path}`, init);
  if (res.status >= 400)
    errorAnswers.push({ what: `${init.method ?? ''} ${path}`, res: res as JsonResponse });
  return res;
}

async function signup(email = uniqueEmail()): Promise<AuthBody> {
  const res = await rest<AuthBody>('/auth/signup', { body: { email, password: PASSWORD } });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The token of the newest invitation email to `to`, read from the accept link. */
async function invitationToken(to: string): Promise<string> {
  const rows = await server.deps.sql<{ payload: { url: string } }[]>`
    select payload from email_outbox where "to" = ${to} and template = 'invitation' order by created_at desc limit 1`;
  expect(rows, `an invitation email to ${to}`).toHaveLength(1);
  const url = new URL(rows[0]!.payload.url);
  expect(`${url.origin}${url.pathname}`).toBe('http://app.test/accept-invitation');
  return url.searchParams.get('token')!;
}

/** An owner with a team organization. */
async function team(name = 'REST Team') {
  const owner = await signup(uniqueEmail('owner'));
  const org = await rest<{ id: string }>('/organizations/create-organization', {
    body: { name },
    token: owner.tokens.accessToken,
  });
  expect(org.status, org.text).toBe(200);
  return { owner, token: owner.tokens.accessToken, organizationId: org.body.id };
}

async function invite(t: Awaited<ReturnType<typeof team>>, email: string, role = 'MEMBER') {
  const res = await rest<Invitation>('/invitations', {
    body: { organizationId: t.organizationId, email, role },
    token: t.token,
  });
  expect(res.status, res.text).toBe(200);
  return { invitation: res.body, token: await invitationToken(email) };
}

const details = (token: string) =>
  rest<Record<string, unknown>>(`/invitations/details?token=${encodeURIComponent(token)}`);

beforeAll(async () => {
  // PLAN_FREE_SEATS: the plans' seat limits are the billing tests' business.
  server = await startTestServer({ RATE_LIMIT_LOGIN: '5/60', PLAN_FREE_SEATS: '10000' });
});
afterAll(async () => {
  await server?.close();
});

describe('invitations over REST', () => {
  it('a new person: create → email → details → accept with a password → tokens work', async () => {
    const t = await team('Rest Newcomers');
    const email = uniqueEmail('newcomer');
    const { invitation, token } = await invite(t, email, 'MODERATOR');
    expect(invitation).toMatchObject({ email, role: 'MODERATOR', status: 'pending' });

    const d = await details(token);
    expect(d.status, d.text).toBe(200);
    expect(d.body).toMatchObject({
      organizationName: 'Rest Newcomers',
      email,
      role: 'MODERATOR',
      accountExists: false,
    });

    const accepted = await rest<{ organizationId: string; role: string; tokens: Tokens }>(
      '/invitations/accept',
      {
        body: { token, password: PASSWORD, name: 'Rest Person' },
      },
    );
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body).toMatchObject({ organizationId: t.organizationId, role: 'MODERATOR' });
    const me = await rest<{ email: string; emailVerified: boolean }>('/user/me', {
      token: accepted.body.tokens.accessToken,
    });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email, emailVerified: true });
    const mine = await rest<{ memberships: { organizationId: string; isSolo: boolean; role: string }[] }>(
      '/user/memberships?includeSolo=true',
      { token: accepted.body.tokens.accessToken },
    );
    expect(mine.status, mine.text).toBe(200);
    expect(mine.body.memberships.map((m) => [m.isSolo, m.role])).toEqual([
      [false, 'MODERATOR'],
      [true, 'ADMIN'],
    ]);
    // Single use: the link is now unknown.
    expect((await details(token)).status).toBe(404);
    expect((await rest('/invitations/accept', { body: { token, password: PASSWORD } })).status).toBe(404);
  });

  it('an existing user: anonymous 401, someone else 403, the invitee 200; twice gives one membership', async () => {
    const t = await team();
    const invitee = await signup(uniqueEmail('existing'));
    const stranger = await signup(uniqueEmail('stranger'));
    const { token } = await invite(t, invitee.user.email);
    expect((await details(token)).body).toMatchObject({ accountExists: true });

    const anonymous = await rest<ErrorBody>('/invitations/accept', { body: { token } });
    expect(anonymous.status, anonymous.text).toBe(401);
    const wrong = await rest<ErrorBody>('/invitations/accept', {
      body: { token },
      token: stranger.tokens.accessToken,
    });
    expect(wrong.status, wrong.text).toBe(403);
    const ok = await rest<{ role: string; tokens: null }>('/invitations/accept', {
      body: { token },
      token: invitee.tokens.accessToken,
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ role: 'MEMBER', tokens: null });
    const again = await rest('/invitations/accept', { body: { token }, token: invitee.tokens.accessToken });
    expect(again.status).toBe(404);
    const rows = await server.deps.sql`
      select 1 from memberships where organization_id = ${t.organizationId} and user_id = ${invitee.user.id}`;
    expect(rows).toHaveLength(1);
  });

  it('an expired link answers 400 saying it expired; a revoked one 404', async () => {
    const t = await team();
    const late = await invite(t, uniqueEmail('late'));
    await server.deps
      .sql`update invitations set expires_at = now() - interval '1 minute' where id = ${late.invitation.id}`;
    const expired = await details(late.token);
    expect(expired.status, expired.text).toBe(400);
    expect((expired.body as unknown as ErrorBody).message).toMatch(/expired/i);
    const expiredAccept = await rest<ErrorBody>('/invitations/accept', {
      body: { token: late.token, password: PASSWORD },
    });
    expect(expiredAccept.status).toBe(400);
    expect(expiredAccept.body.message).toMatch(/expired/i);

    const revoked = await invite(t, uniqueEmail('revoked'));
    const del = await rest<Invitation>(`/invitations/${revoked.invitation.id}`, {
      method: 'DELETE',
      token: t.token,
    });
    expect(del.status, del.text).toBe(200);
    expect(del.body.status).toBe('revoked');
    expect((await details(revoked.token)).status).toBe(404);
    expect(
      (await rest('/invitations/accept', { body: { token: revoked.token, password: PASSWORD } })).status,
    ).toBe(404);

    const list = await rest<{ invitations: Invitation[] }>(`/organizations/${t.organizationId}/invitations`, {
      token: t.token,
    });
    expect(list.status, list.text).toBe(200);
    expect(Object.fromEntries(list.body.invitations.map((i) => [i.id, i.status]))).toEqual({
      [late.invitation.id]: 'expired',
      [revoked.invitation.id]: 'revoked',
    });
  });

  it('a MODERATOR cannot invite an ADMIN (403); a non-member cannot invite at all (403)', async () => {
    const t = await team();
    const mod = await signup(uniqueEmail('mod'));
    const { token } = await invite(t, mod.user.email, 'MODERATOR');
    expect(
      (await rest('/invitations/accept', { body: { token }, token: mod.tokens.accessToken })).status,
    ).toBe(200);
    const asAdmin = await rest('/invitations', {
      body: { organizationId: t.organizationId, email: uniqueEmail(), role: 'ADMIN' },
      token: mod.tokens.accessToken,
    });
    expect(asAdmin.status, asAdmin.text).toBe(403);
    const asMember = await rest('/invitations', {
      body: { organizationId: t.organizationId, email: uniqueEmail(), role: 'MEMBER' },
      token: mod.tokens.accessToken,
    });
    expect(asMember.status, asMember.text).toBe(200);
    const outsider = await signup(uniqueEmail('outsider'));
    const refused = await rest('/invitations', {
      body: { organizationId: t.organizationId, email: uniqueEmail() },
      token: outsider.tokens.accessToken,
    });
    expect(refused.status).toBe(403);
    const noToken = await rest('/invitations', {
      body: { organizationId: t.organizationId, email: uniqueEmail() },
    });
    expect(noToken.status).toBe(401);
  });
});

describe('rate limits over REST', () => {
  it('the 6th failed login for one email from one client is 429 with Retry-After; another email is not limited', async () => {
    const { user } = await signup(uniqueEmail('target'));
    const statuses: number[] = [];
    let last: JsonResponse<ErrorBody> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await rest<ErrorBody>('/auth/login', {
        body: { email: user.email, password: `wrong password ${i}` },
      });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const retryAfter = last!.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    expect(last!.headers.get('content-type')).toMatch(/application\/json/);
    expect(last!.body.code).toBe('TOO_MANY_REQUESTS');
    expect(last!.body.message).toMatch(/too many/i);
    // Even the right password is refused while the limit holds.
    expect((await rest('/auth/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(429);

    const other = await signup(uniqueEmail('other'));
    const wrong = await rest('/auth/login', {
      body: { email: other.user.email, password: 'wrong password' },
    });
    expect(wrong.status).toBe(401);
    const right = await rest('/auth/login', { body: { email: other.user.email, password: PASSWORD } });
    expect(right.status, right.text).toBe(200);
  });
});

describe('admin area over REST', () => {
  it('GET /api/admin/users is 403 for a plain user and 401 without a token', async () => {
    const plain = await signup(uniqueEmail('plain'));
    const res = await rest<ErrorBody>('/admin/users', { token: plain.tokens.accessToken });
    expect(res.status, res.text).toBe(403);
    expect(res.body.code).toBe('FORBIDDEN');
    expect((await rest('/admin/users')).status).toBe(401);
  });
});

describe('error answers', () => {
  it('never carry a stack or a source path', () => {
    expect(errorAnswers.length).toBeGreaterThan(10);
    for (const { what, res } of errorAnswers) {
      expect(leaksOf(res.text), what).toEqual([]);
      expect(res.status, what).toBeLessThan(500);
    }
  });
});

describe('the OpenAPI document', () => {
  it('lists every status this file saw, each body matching its schema', async () => {
    const { problems, seen } = await undocumentedAnswers(server.url);
    expect(seen.size).toBeGreaterThan(5);
    expect(problems).toEqual([]);
  });
});
