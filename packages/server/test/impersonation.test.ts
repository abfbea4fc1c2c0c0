// Support impersonation over the real server: REST start and end, the hot path (GET
// /api/organizations/{id}) and the express upload route under a read-only support session, and
// the request log line naming both the user and the superadmin.
import { Writable } from 'node:stream';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createRuntime, type Runtime, startApiServer } from '../src/index.js';
import { call, PASSWORD, uniqueEmail } from './helpers.js';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
    done();
  },
});

let deps: TestDeps;
let runtime: Runtime;
let api: ApiServer;
let superToken: string;
let superId: string;
let userId: string;
let organizationId: string;

async function signup(prefix: string) {
  const res = await call<{ tokens: { accessToken: string }; user: { id: string } }>(
    `${api.url}/api/auth/signup`,
    { body: { email: uniqueEmail(prefix), password: PASSWORD } },
  );
  return { token: res.body.tokens.accessToken, id: res.body.user.id };
}

beforeAll(async () => {
  deps = await createTestDeps();
  runtime = createRuntime(deps.config, deps.databaseUrl, pino({ level: 'info' }, sink));
  api = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
  const superadmin = await signup('super');
  await deps.sql`update users set system_role = 'superadmin' where id = ${superadmin.id}`;
  superToken = superadmin.token;
  superId = superadmin.id;
  const user = await signup('target');
  userId = user.id;
  const org = await call<{ id: string }>(`${api.url}/api/organizations/create-organization`, {
    token: user.token,
    body: { name: 'Supported Org' },
  });
  organizationId = org.body.id;
});
afterAll(async () => {
  await api.stop();
  await runtime.close();
  await deps.close();
});

const lineOf = async (requestId: string) => {
  for (let i = 0; i < 50; i++) {
    const line = lines.find((l) => (l.req as { id?: string } | undefined)?.id === requestId);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
};

describe('a read-only support session over HTTP', () => {
  let token: string;
  let impersonationId: string;

  beforeAll(async () => {
    const res = await call<{ accessToken: string; impersonationId: string; refreshToken?: string }>(
      `${api.url}/api/admin/users/${userId}/impersonate`,
      { token: superToken, body: { reason: 'Ticket 77: cannot see the invoices', minutes: 10 } },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.refreshToken).toBeUndefined();
    token = res.body.accessToken;
    impersonationId = res.body.impersonationId;
  });

  it('reads through the hot path, and the log line names the user, the superadmin and the session', async () => {
    const res = await call<{ id: string }>(`${api.url}/api/organizations/${organizationId}`, {
      token,
      headers: { 'x-request-id': 'support-read-1' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.id).toBe(organizationId);
    expect(await lineOf('support-read-1')).toMatchObject({
      userId,
      actorUserId: superId,
      impersonationId,
      organizationId,
      res: { statusCode: 200 },
    });
    const me = await call<{ id: string; impersonatedBy: { userId: string } | null }>(
      `${api.url}/api/user/me`,
      {
        token,
      },
    );
    expect(me.body).toMatchObject({ id: userId, impersonatedBy: { userId: superId } });
  });

  it('refuses a write with 403 saying it is read-only, logged with both ids', async () => {
    const res = await call<{ message: string }>(`${api.url}/api/organizations/${organizationId}`, {
      method: 'PUT',
      token,
      body: { name: 'Renamed by support' },
      headers: { 'x-request-id': 'support-write-1' },
    });
    expect(res.status, res.text).toBe(403);
    expect(res.body.message).toMatch(/read-only/);
    expect(await lineOf('support-write-1')).toMatchObject({ actorUserId: superId, impersonationId });
  });

  it('refuses the multipart upload route (express, outside tRPC) with 403', async () => {
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('hello')], { type: 'text/plain' }), 'note.txt');
    const res = await fetch(`${api.url}/api/organizations/${organizationId}/assets/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'support-upload-1' },
      body: form,
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toMatch(/read-only/);
    expect(await lineOf('support-upload-1')).toMatchObject({ actorUserId: superId, impersonationId });
  });

  it('never links a sign-in provider to the account (POST /oauth/{provider}/start)', async () => {
    const res = await call<{ message: string }>(`${api.url}/oauth/acme/start`, {
      method: 'POST',
      token,
      body: { redirectTo: `${api.url}/account` },
    });
    expect(res.status, res.text).toBe(403);
    expect(res.body.message).toMatch(/Not in a support session/);
  });

  it('ends with its own token: the next request is 401', async () => {
    const end = await call(`${api.url}/api/admin/impersonation/end`, { token, body: {} });
    expect(end.status, end.text).toBe(200);
    const res = await call(`${api.url}/api/organizations/${organizationId}`, { token });
    expect(res.status).toBe(401);
    // Tokens never reach the log.
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});
