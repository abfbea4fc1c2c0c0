import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { createSendGridTransport } from '@woopdi/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMailTransport, startWorker, type WorkerHandle } from '../src/index.js';
import { outboxRow, signup, waitFor } from './helpers.js';

interface Recorded {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: {
    personalizations: Array<{ to: Array<{ email: string }> }>;
    from: { email: string };
    subject: string;
    content: Array<{ type: string; value: string }>;
    custom_args?: Record<string, string>;
  };
}

let deps: TestDeps;
let server: Server;
let worker: WorkerHandle;
const requests: Recorded[] = [];

beforeAll(async () => {
  deps = await createTestDeps({ SENDGRID_API_KEY: 'SG.test', SENDGRID_FROM_EMAIL: 'noreply@woopdi.test' });
  // Stands in for api.sendgrid.com: records the request and answers like SendGrid's v3 mail send.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      res.writeHead(202, { 'x-message-id': `sg-msg-${requests.length}` }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const sendgrid = deps.config.sendgrid!;
  expect(createMailTransport(deps.config, deps.logger).name).toBe('sendgrid');
  worker = await startWorker({
    ...deps,
    mailTransport: createSendGridTransport({
      apiKey: sendgrid.apiKey,
      from: sendgrid.fromEmail,
      baseUrl: `http://127.0.0.1:${port}/`,
    }),
  });
});

afterAll(async () => {
  await worker?.stop();
  await new Promise((resolve) => server?.close(resolve));
  await deps?.close();
});

it('delivers through SendGrid and stores its message id', async () => {
  const { email, outboxId } = await signup(deps);
  const row = await waitFor(async () => {
    const r = await outboxRow(deps, outboxId);
    return r.status === 'sent' && r;
  }, 'the outbox row to be sent');

  expect(requests).toHaveLength(1);
  const [request] = requests;
  expect(request).toMatchObject({ method: 'POST', url: '/v3/mail/send' });
  expect(request!.headers.authorization).toBe('Bearer SG.test');
  expect(request!.body.personalizations[0]!.to[0]!.email).toBe(email);
  expect(request!.body.from.email).toBe('noreply@woopdi.test');
  expect(request!.body.custom_args).toEqual({ outboxId });
  expect(request!.body.content.find((c) => c.type === 'text/plain')!.value).toContain(
    'http://app.test/confirm-email?token=',
  );
  expect(row).toMatchObject({ status: 'sent', attempts: 1, providerId: 'sg-msg-1' });
});
