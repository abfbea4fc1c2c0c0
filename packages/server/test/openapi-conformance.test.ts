// The OpenAPI document against what the server really answers: every operation is called signed
// out, with a stranger's token and with bad ids and bodies, then a broad flow walks accounts,
// organizations, members, invitations, tasks (and their two streams), secrets, files, billing and
// the admin area; every answer's status and body must be what /openapi.json says.
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';
import { conformanceChecker, exchanges, type OpenApiDocument } from './openapi-conformance.js';

interface AuthBody {
  user: { id: string; email: string };
  tokens: { accessToken: string; refreshToken: string };
}

let server: TestServer;
let worker: WorkerHandle;
let doc: OpenApiDocument;

beforeAll(async () => {
  server = await startTestServer({ WEB_CLIENT_URL: 'http://app.test' });
  worker = await startWorker({ ...server.deps, pollInterval: 50 });
  doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApiDocument;
});

afterAll(async () => {
  await worker?.stop();
  await server?.close();
});

const api = <T = Record<string, unknown>>(path: string, init: Parameters<typeof call>[1] = {}) =>
  call<T>(`${server.url}/api${path}`, init);

async function signup(email = uniqueEmail()): Promise<AuthBody> {
  const res = await api<AuthBody>('/auth/signup', { body: { email, password: PASSWORD, name: 'Ada' } });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The token of the newest email of `template` to `to`, read from its link. */
async function mailedToken(to: string, template: string): Promise<string> {
  const rows = await server.deps.sql<{ payload: { url: string } }[]>`
    select payload from email_outbox where "to" = ${to} and template = ${template}
    order by created_at desc limit 1`;
  expect(rows, `a ${template} email to ${to}`).toHaveLength(1);
  return new URL(rows[0]!.payload.url).searchParams.get('token')!;
}

async function waitForTask(token: string, taskId: string) {
  for (let i = 0; i < 300; i++) {
    const res = await api<{ status: string }>(`/tasks/${taskId}`, { token });
    expect(res.status, res.text).toBe(200);
    if (['succeeded', 'failed', 'cancelled'].includes(res.body.status)) return res.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`task ${taskId} did not finish`);
}

const ZERO = '00000000-0000-4000-8000-000000000000';

describe('the server answers only what /openapi.json documents', () => {
  it('for every operation called signed out, with a stranger, and with bad ids and bodies', async () => {
    const stranger = await signup();
    for (const [template, item] of Object.entries(doc.paths)) {
      const root = item.servers ? '' : '/api';
      for (const method of ['get', 'post', 'put', 'patch', 'delete'].filter((m) => item[m])) {
        for (const id of [ZERO, 'not-a-uuid']) {
          for (const token of [undefined, stranger.tokens.accessToken, 'not.a.token']) {
            // Signing the stranger out would leave nothing but 401s for the operations after it.
            if (template === '/auth/logout' && token === stranger.tokens.accessToken) continue;
            const hasBody = method !== 'get' && method !== 'delete';
            await call(`${server.url}${root}${template.replace(/\{[^}]+\}/g, id)}`, {
              method: method.toUpperCase(),
              ...(token && { token }),
              ...(hasBody && { body: {} }),
            });
          }
        }
      }
    }
  }, 120_000);

  it('for a broad flow: accounts, organizations, members, invitations, tasks, files, billing, admin', async () => {
    // Accounts.
    const ownerEmail = uniqueEmail('owner');
    const owner = await signup(ownerEmail);
    const token = owner.tokens.accessToken;
    expect((await api('/auth/signup', { body: { email: ownerEmail, password: PASSWORD } })).status).toBe(409);
    expect((await api('/auth/signup', { body: { email: 'nope', password: 'short' } })).status).toBe(400);
    expect(
      (await api('/auth/login', { body: { email: ownerEmail, password: 'wrong password' } })).status,
    ).toBe(401);
    const login = await api<AuthBody>('/auth/login', { body: { email: ownerEmail, password: PASSWORD } });
    expect(login.status).toBe(200);
    const refreshed = await api('/auth/refresh', { body: { refreshToken: login.body.tokens.refreshToken } });
    expect(refreshed.status, refreshed.text).toBe(200);
    // A rotated refresh token presented again ends that sign-in.
    expect(
      (await api('/auth/refresh', { body: { refreshToken: login.body.tokens.refreshToken } })).status,
    ).toBe(401);
    expect((await api('/user/me', { token })).status).toBe(200);
    expect((await api('/user/me', { method: 'PATCH', token, body: { name: 'Ada Lovelace' } })).status).toBe(
      200,
    );
    const memberships = await api<{ memberships: { organizationId: string }[] }>(
      '/user/memberships?includeSolo=true',
      { token },
    );
    expect(memberships.status).toBe(200);
    const solo = memberships.body.memberships[0]!.organizationId;
    await api('/user/active-organization', { method: 'PUT', token, body: { organizationId: solo } });
    await api('/auth/resend-verification', { body: { email: ownerEmail } });
    const verify = await mailedToken(ownerEmail, 'verify_email').catch(() => undefined);
    if (verify) await api('/auth/verify-email', { body: { token: verify } });
    await api('/auth/verify-email', { body: { token: 'x'.repeat(40) } });
    await api('/auth/request-password-reset', { body: { email: ownerEmail } });
    await api('/auth/reset-password', { body: { token: 'x'.repeat(40), password: PASSWORD } });
    await api('/system-settings');
    await api('/billing/plans');

    // Organizations, members and invitations.
    const created = await api<{ id: string }>('/organizations/create-organization', {
      token,
      body: { name: 'Conformance' },
    });
    expect(created.status, created.text).toBe(200);
    const org = created.body.id;
    await api('/organizations/create-organization', { token, body: { name: 'A second team' } });
    await api(`/organizations/${org}`, { token });
    await api(`/organizations/${org}`, { method: 'PUT', token, body: { name: 'Conformance Inc' } });
    await api(`/organizations/${solo}`, { method: 'PUT', token, body: { name: 'Renamed solo' } });
    await api(`/organizations/${org}/audit-log`, { token });
    await api(`/organization-users/${org}`, { token });

    const memberEmail = uniqueEmail('member');
    const invited = await api<{ id: string }>('/invitations', {
      token,
      body: { organizationId: org, email: memberEmail, role: 'MEMBER' },
    });
    expect(invited.status, invited.text).toBe(200);
    await api('/invitations', { token, body: { organizationId: solo, email: memberEmail } });
    await api(`/organizations/${org}/invitations`, { token });
    await api(`/invitations/${invited.body.id}/resend`, { method: 'POST', token });
    const invitation = await mailedToken(memberEmail, 'invitation');
    await api(`/invitations/details?token=${invitation}`);
    await api('/invitations/details?token=unknown-token-of-some-length');
    await api('/invitations/accept', { body: { token: invitation } }); // a new person needs a password
    const accepted = await api<{ user: { id: string }; tokens: { accessToken: string } }>(
      '/invitations/accept',
      { body: { token: invitation, password: PASSWORD, name: 'Bea' } },
    );
    expect(accepted.status, accepted.text).toBe(200);
    await api('/invitations/accept', { body: { token: invitation, password: PASSWORD } }); // used
    const member = { id: accepted.body.user.id, token: accepted.body.tokens!.accessToken };
    await api('/invitations', { token, body: { organizationId: org, email: memberEmail } }); // a member
    await api(`/organization-users/${org}`, { token: member.token }); // below MODERATOR
    await api(`/organization-users/${org}/${member.id}`, {
      method: 'PUT',
      token,
      body: { role: 'MODERATOR' },
    });
    await api(`/organization-users/${org}/${owner.user.id}`, {
      method: 'PUT',
      token: member.token,
      body: { role: 'MEMBER' },
    });
    await api(`/organization-users/${org}/${member.id}`, { method: 'PUT', token, body: { role: 'ADMIN' } });
    await api(`/organizations/${org}/transfer-ownership`, { token, body: { userId: member.id } });
    await api(`/organizations/${org}/transfer-ownership`, {
      token: member.token,
      body: { userId: owner.user.id },
    });
    const revokeMe = await api<{ id: string }>('/invitations', {
      token,
      body: { organizationId: org, email: uniqueEmail('revoked') },
    });
    await api(`/invitations/${revokeMe.body.id}`, { method: 'DELETE', token });
    await api(`/invitations/${revokeMe.body.id}`, { method: 'DELETE', token });

    // Tasks, polled and streamed.
    const started = await api<{ taskId: string }>(`/organizations/${org}/tasks`, {
      token,
      body: { kind: 'example_streaming', input: { steps: 2, intervalMs: 0 } },
    });
    expect(started.status, started.text).toBe(200);
    const taskId = started.body.taskId;
    await api(`/organizations/${org}/tasks`, { token, body: { kind: 'example_streaming' } });
    await api(`/organizations/${org}/tasks`, {
      token,
      body: { kind: 'example_streaming', input: { steps: 0 } },
    });
    await api(`/organizations/${org}/tasks`, { token, body: { kind: 'no_such_kind' } });
    await api(`/organizations/${org}/tasks`, {
      token,
      body: { kind: 'generate_image', input: { prompt: 'a fox' } },
    });
    await api(`/organizations/${org}/tasks`, { token, body: { kind: 'generate_image' } });
    await api(`/organizations/${org}/tasks`, { token, body: { kind: 'org_export' } });
    await api(`/organizations/${org}/tasks`, { token: member.token, body: { kind: 'org_export' } }); // MODERATOR+
    await waitForTask(token, taskId);
    await api(`/organizations/${org}/tasks?status=succeeded`, { token });
    await api(`/tasks/${taskId}/cancel`, { method: 'POST', token }); // already finished
    const sse = await call(`${server.url}/tasks/${taskId}/events`, { token });
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const seqs = [...sse.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(seqs.length).toBeGreaterThanOrEqual(3);
    await call(`${server.url}/tasks/${taskId}/events`, {
      token,
      headers: { 'last-event-id': String(seqs.at(-1)) },
    });
    await call(`${server.url}/tasks/${taskId}/events?lastEventId=soon`, { token });
    await call(`${server.url}/tasks/${taskId}/events?token=${token}&lastEventId=1`);
    await call(`${server.url}/tasks/${taskId}/ws`, { token });

    // Secrets, files, billing.
    await api(`/organizations/${org}/secrets/REPLICATE_API_TOKEN`, {
      method: 'PUT',
      token,
      body: { value: 'r8_conformance_token' },
    });
    await api(`/organizations/${org}/secrets`, { token });
    await api(`/organizations/${org}/secrets/REPLICATE_API_TOKEN`, { method: 'DELETE', token });
    await api(`/organizations/${org}/secrets/NOT_A_SECRET`, { method: 'DELETE', token });
    const upload = await api<{ assetId: string; uploadUrl: string; headers: Record<string, string> }>(
      `/organizations/${org}/assets/uploads`,
      { token, body: { filename: 'note.txt', contentType: 'text/plain', size: 5 } },
    );
    await api(`/organizations/${org}/assets/uploads`, {
      token,
      body: { filename: 'huge.bin', contentType: 'application/x-nope', size: 1 },
    });
    if (upload.status === 200) {
      await api(`/organizations/${org}/assets/${upload.body.assetId}/complete`, { method: 'POST', token });
      await fetch(upload.body.uploadUrl, { method: 'PUT', headers: upload.body.headers, body: 'hello' });
      await api(`/organizations/${org}/assets/${upload.body.assetId}/complete`, { method: 'POST', token });
      await api(`/organizations/${org}/assets/${upload.body.assetId}`, { token });
      await api(`/organizations/${org}/assets?source=upload`, { token });
      await api(`/organizations/${org}/assets/${upload.body.assetId}`, { method: 'DELETE', token });
    }
    await api(`/organizations/${org}/billing`, { token });
    await api(`/organizations/${org}/billing/checkout`, { token, body: { plan: 'pro', seats: 3 } });
    await api(`/organizations/${org}/billing/portal`, { method: 'POST', token });
    await api(`/organizations/${org}/billing/seats`, { method: 'PUT', token, body: { seats: 4 } });

    // The admin area: refused to a plain user, then as a superadmin.
    await api('/admin/users', { token });
    await server.deps.sql`update users set system_role = 'superadmin' where id = ${owner.user.id}::uuid`;
    const admin = await api<AuthBody>('/auth/login', { body: { email: ownerEmail, password: PASSWORD } });
    const adminToken = admin.body.tokens.accessToken;
    await api('/admin/users?disabled=false&limit=5', { token: adminToken });
    await api('/admin/organizations?isSolo=false', { token: adminToken });
    await api('/admin/users', {
      token: adminToken,
      body: { email: uniqueEmail('staff'), password: PASSWORD },
    });
    await api('/admin/users', { token: adminToken, body: { email: ownerEmail, password: PASSWORD } });
    await api(`/admin/users/${member.id}/system-role`, {
      method: 'PUT',
      token: adminToken,
      body: { systemRole: 'admin' },
    });
    await api(`/admin/users/${member.id}/disable`, { method: 'POST', token: adminToken });
    await api(`/user/me`, { token: member.token }); // disabled
    await api(`/admin/users/${member.id}/enable`, { method: 'POST', token: adminToken });
    await api(`/admin/users/${owner.user.id}/disable`, { method: 'POST', token: adminToken }); // yourself

    // Leaving and deleting.
    await api(`/organizations/${org}/leave`, { method: 'POST', token: member.token });
    await api(`/organizations/${org}/leave`, { method: 'POST', token });
    await api(`/organization-users/${org}/${owner.user.id}`, { method: 'DELETE', token });
    await api(`/organizations/${solo}`, { method: 'DELETE', token });
    await api(`/organizations/${org}`, { method: 'DELETE', token });
    await api('/auth/logout', { method: 'POST', token });
    await api('/user/me', { token });
  }, 120_000);

  it('is a check that can fail: an unlisted status, a wrong body, a missing Retry-After, a wrong type', () => {
    const { check } = conformanceChecker(doc);
    const login = {
      method: 'POST',
      pathname: '/api/auth/login',
      contentType: 'application/json',
      text: '{}',
    };
    const problems = (x: Partial<Parameters<typeof check>[0]>) =>
      check({ ...login, status: 200, headers: {}, body: {}, ...x }).problems.join(' ');
    expect(problems({ status: 418 })).toMatch(/status not documented/);
    expect(problems({ status: 400, body: { message: 1 } })).toMatch(/must have required property 'code'/);
    expect(problems({ body: { user: {} } })).toMatch(/must have required property 'tokens'/);
    expect(problems({ status: 429, body: { message: 'Wait', code: 'TOO_MANY_REQUESTS' } })).toMatch(
      /no Retry-After header/,
    );
    expect(problems({ method: 'GET', pathname: `/tasks/${ZERO}/events` })).toMatch(
      /documented: text\/event-stream/,
    );
    // And a real answer passes.
    expect(
      problems({ status: 401, body: { message: 'Wrong email or password.', code: 'UNAUTHORIZED' } }),
    ).toBe('');
  });

  it('documents every status and body above, for every operation', () => {
    const { problems, seen } = conformanceChecker(doc).checkAll(exchanges);
    expect(problems).toEqual([]);
    const operations = Object.values(doc.paths).flatMap((item) =>
      ['get', 'post', 'put', 'patch', 'delete']
        .map((m) => (item[m] as { operationId?: string } | undefined)?.operationId)
        .filter(Boolean),
    );
    expect(operations.filter((id) => !seen.has(id!))).toEqual([]);
  });

  it("describes each SSE frame's data with the TaskEvent schema", async () => {
    const checker = conformanceChecker(doc);
    const frames = exchanges
      .filter((x) => x.contentType?.startsWith('text/event-stream'))
      .flatMap((x) => [...x.text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as unknown));
    expect(frames.length).toBeGreaterThanOrEqual(3);
    const validate = checker.validator('#/components/schemas/TaskEvent');
    for (const frame of frames) expect(validate(frame), JSON.stringify(validate.errors)).toBe(true);
  });
});
