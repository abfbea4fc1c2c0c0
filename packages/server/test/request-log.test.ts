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
