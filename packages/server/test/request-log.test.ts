import { Writable } from 'node:stream';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ApiServer, createRuntime, type Runtime, startApiServer } from '../src/index.js';
import { call } from './helpers.js';

// A real pino logger writing JSON lines into memory, so the test reads what operators would read.
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
beforeAll(async () => {
  deps = await createTestDeps();
  runtime = createRuntime(deps.config, deps.databaseUrl, pino({ level: 'info' }, sink));
  api = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await api.stop();
  await runtime.close();
  await deps.close();
});

it('logs each request with its request id, the user it acted as, and the organization', async () => {
  const signup = await call<{ tokens: { accessToken: string }; user: { id: string } }>(
    `${api.url}/api/auth/signup`,
    {
      method: 'POST',
      body: { email: 'logged@example.com', password: 'correct horse battery' },
    },
  );
  const token = signup.body.tokens.accessToken;
  const org = await call<{ id: string }>(`${api.url}/api/organizations/create-organization`, {
    method: 'POST',
    token,
    body: { name: 'Logged' },
  });
  const res = await call(`${api.url}/api/organizations/${org.body.id}`, {
    token,
    headers: { 'x-request-id': 'req-under-test-1' },
  });
  expect(res.status).toBe(200);
  await new Promise((r) => setTimeout(r, 50));
  const line = lines.find((l) => (l.req as { id?: string } | undefined)?.id === 'req-under-test-1');
  expect(line).toMatchObject({
    msg: 'request completed',
    userId: signup.body.user.id,
    organizationId: org.body.id,
    res: { statusCode: 200 },
  });
  // Tokens never reach the log, not even from query strings.
  expect(JSON.stringify(lines)).not.toContain(token);
});

it('never logs a credential-bearing query parameter (sig, token, access_token, connectionParams, …)', async () => {
  const signup = await call<{ tokens: { accessToken: string } }>(`${api.url}/api/auth/signup`, {
    body: { email: 'redacted@example.com', password: 'correct horse battery' },
  });
  const token = signup.body.tokens.accessToken;
  const org = await call<{ id: string }>(`${api.url}/api/organizations/create-organization`, {
    token,
    body: { name: 'Redacted' },
  });
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(8)]);
  const ticket = await call<{ assetId: string; uploadUrl: string; headers: Record<string, string> }>(
    `${api.url}/api/organizations/${org.body.id}/assets/uploads`,
    { token, body: { filename: 'a.png', contentType: 'image/png', size: png.length } },
  );
  expect(ticket.status, ticket.text).toBe(200);
  const put = await fetch(ticket.body.uploadUrl, { method: 'PUT', headers: ticket.body.headers, body: png });
  expect(put.status).toBe(200);
  await call(`${api.url}/api/organizations/${org.body.id}/assets/${ticket.body.assetId}/complete`, {
    method: 'POST',
    token,
  });
  const got = await call<{ downloadUrl: string }>(
    `${api.url}/api/organizations/${org.body.id}/assets/${ticket.body.assetId}`,
    { token },
  );
  expect((await fetch(got.body.downloadUrl)).status).toBe(200);
  const secrets = [
    new URL(ticket.body.uploadUrl).searchParams.get('sig')!,
    new URL(got.body.downloadUrl).searchParams.get('sig')!,
    'one-time-link-token-0123456789',
    'query-access-token-0123456789',
    'upper-case-signature-0123456789',
    'encoded-name-signature-0123456789',
  ];
  // The hot path (GET queries) and express (everything else), in every spelling.
  await call(`${api.url}/api/invitations/details?token=${secrets[2]}`);
  await call(`${api.url}/tasks/3b241101-e2bb-4255-8caf-4136c566a962/events?access_token=${secrets[3]}`);
  await call(`${api.url}/trpc/users.me?connectionParams=1&token=${token}`);
  await call(`${api.url}/storage/orgs/x/y.png?expires=1&ct=image%2Fpng&SIG=${secrets[4]}`);
  await call(`${api.url}/storage/orgs/x/y.png?expires=1&ct=image%2Fpng&%73ig=${secrets[5]}`);
  await new Promise((r) => setTimeout(r, 100));
  const logged = JSON.stringify(lines);
  expect(logged).toContain('/storage/orgs/');
  expect(logged).toContain('[redacted]');
  for (const secret of [...secrets, token]) expect(logged).not.toContain(secret);
});
