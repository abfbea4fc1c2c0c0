// The same flows through the typed tRPC client over real HTTP (/trpc, batch link).
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@woopdi/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;

function client(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${server.url}/trpc`,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

/** Runs `fn`, expecting it to fail with a TRPCClientError, and returns that error. */
async function failure(fn: () => Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCClientError);
    return error as TRPCClientError<AppRouter>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

async function signedUp() {
  const email = uniqueEmail('trpc');
  const result = await client().auth.signup.mutate({ email, password: PASSWORD, name: 'Tess' });
  return { ...result, email, api: client(result.tokens.accessToken) };
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

describe('tRPC over HTTP', () => {
  it('signs up and reads the same user back with users.me', async () => {
    const { user, email, api } = await signedUp();
    expect(user.email).toBe(email.toLowerCase());
    expect(user.name).toBe('Tess');
    const me = await api.users.me.query();
    expect(me).toEqual({ ...user, twoFactorEnabled: false, impersonatedBy: null });
  });

  it('signs in with auth.login and batches several queries in one request', async () => {
    const { email, user } = await signedUp();
    const login = await client().auth.login.mutate({ email, password: PASSWORD });
    if (login.twoFactorRequired) throw new Error('this account has two-factor off');
    expect(login.user.id).toBe(user.id);
    const api = client(login.tokens.accessToken);
    const [me, settings] = await Promise.all([api.users.me.query(), api.system.settings.query()]);
    expect(me.id).toBe(user.id);
    expect(settings.maxOwnedTeamOrganizations).toBe(1);
  });

  it('lists the solo organization in users.memberships only with includeSolo: true', async () => {
    const { api, user } = await signedUp();
    const all = await api.users.memberships.query({ includeSolo: true });
    expect(all.memberships).toHaveLength(1);
    expect(all.memberships[0]).toMatchObject({ isSolo: true, role: 'ADMIN', isOwner: true });
    expect((await api.users.memberships.query()).memberships).toEqual([]);
    expect((await api.users.memberships.query({ includeSolo: false })).memberships).toEqual([]);

    const team = await api.organizations.create.mutate({ name: 'Team' });
    const teams = await api.users.memberships.query();
    expect(teams.memberships.map((m) => m.organizationId)).toEqual([team.id]);
    expect(team.ownerUserId).toBe(user.id);
  });

  it('creates, reads and renames an organization', async () => {
    const { api } = await signedUp();
    const created = await api.organizations.create.mutate({ name: '  Widgets  ' });
    expect(created).toMatchObject({ name: 'Widgets', isSolo: false });
    const got = await api.organizations.get.query({ organizationId: created.id });
    expect(got).toMatchObject({ id: created.id, role: 'ADMIN', isOwner: true });
    const renamed = await api.organizations.update.mutate({ organizationId: created.id, name: 'Gadgets' });
    expect(renamed.name).toBe('Gadgets');
    expect((await api.organizations.get.query({ organizationId: created.id })).name).toBe('Gadgets');
  });

  it('reports FORBIDDEN with its code and HTTP status, and no stack', async () => {
    const owner = await signedUp();
    const stranger = await signedUp();
    const org = await owner.api.organizations.create.mutate({ name: 'Closed' });
    const error = await failure(() => stranger.api.organizations.get.query({ organizationId: org.id }));
    expect(error.data?.code).toBe('FORBIDDEN');
    expect(error.data?.httpStatus).toBe(403);
    expect(error.message).toMatch(/not a member/);
    expect(error.data).not.toHaveProperty('stack');
    expect(JSON.stringify(error.shape)).not.toMatch(/"stack"|node_modules|\.ts:\d+/);

    const { memberships } = await owner.api.users.memberships.query({ includeSolo: true });
    const solo = memberships.find((m) => m.isSolo);
    const rename = await failure(() =>
      owner.api.organizations.update.mutate({ organizationId: solo!.organizationId, name: 'X' }),
    );
    expect(rename.data?.code).toBe('FORBIDDEN');
    expect(rename.data?.httpStatus).toBe(403);
  });

  it('reports CONFLICT for a duplicate signup and a second team organization', async () => {
    const { email, api } = await signedUp();
    const dup = await failure(() => client().auth.signup.mutate({ email, password: PASSWORD }));
    expect(dup.data?.code).toBe('CONFLICT');
    expect(dup.data?.httpStatus).toBe(409);
    expect(dup.data).not.toHaveProperty('stack');

    await api.organizations.create.mutate({ name: 'One' });
    const second = await failure(() => api.organizations.create.mutate({ name: 'Two' }));
    expect(second.data?.code).toBe('CONFLICT');
    expect(second.data?.httpStatus).toBe(409);
  });

  it('reports bad input as BAD_REQUEST with the failing fields', async () => {
    const error = await failure(() => client().auth.signup.mutate({ email: 'nope', password: 'short' }));
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(error.data?.httpStatus).toBe(400);
    expect(Object.keys(error.data?.fieldErrors ?? {}).sort()).toEqual(['email', 'password']);
    expect(error.message).toMatch(/email/);
    expect(error.message).toMatch(/password/);
  });

  it('reports UNAUTHORIZED without a token and after logout', async () => {
    const anonymous = await failure(() => client().users.me.query());
    expect(anonymous.data?.code).toBe('UNAUTHORIZED');
    expect(anonymous.data?.httpStatus).toBe(401);

    const { api } = await signedUp();
    await api.auth.logout.mutate();
    const after = await failure(() => api.users.me.query());
    expect(after.data?.httpStatus).toBe(401);
  });
});

describe('tRPC batch size (TRPC_MAX_BATCH_SIZE, default 20)', () => {
  const batchUrl = (n: number) => {
    const paths = Array(n).fill('system.settings').join(',');
    // system.settings takes no input: an empty input object gives each call none.
    return `${server.url}/trpc/${paths}?batch=1&input=${encodeURIComponent('{}')}`;
  };

  it('answers a batch of 20 queries', async () => {
    const res = await fetch(batchUrl(20));
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveLength(20);
  });

  it('refuses a longer batch of queries or of mutations with 400, running none of it', async () => {
    const res = await fetch(batchUrl(21));
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Batch call exceeds maximum size/);
    const email = uniqueEmail('batch');
    const mutations = Array(21).fill('auth.signup').join(',');
    const body = Object.fromEntries(
      Array.from({ length: 21 }, (_, i) => [i, { email: `${i}${email}`, password: PASSWORD }]),
    );
    const post = await fetch(`${server.url}/trpc/${mutations}?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(post.status).toBe(400);
    const rows = await server.deps.sql<{ n: number }[]>`
      select count(*)::int as n from users where email like ${`%${email}`}`;
    expect(rows[0]?.n).toBe(0);
  });
});
