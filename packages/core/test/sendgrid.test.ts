import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDb, type DbHandle, emailOutbox } from '@woopdi/db';
import { createTestDatabase, queuedJobs, type TestDatabase } from '@woopdi/db/testing';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { deliverEmail, queueEmail } from '../src/mail/outbox.js';
import { renderEmail } from '../src/mail/templates.js';
import { createSendGridTransport, type MailTransport } from '../src/mail/transport.js';

// A stand-in for api.sendgrid.com: records each request and answers like SendGrid does.
interface RecordedRequest {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: the recorded JSON body is inspected field by field
  body: any;
}
let server: Server;
let port: number;
let requests: RecordedRequest[] = [];
let answer: 'accepted' | 'error' = 'accepted';
let messageCount = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8');
    });
    req.on('end', () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: JSON.parse(raw || 'null'),
      });
      if (answer === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'internal error', field: null, help: null }] }));
        return;
      }
      res.writeHead(202, { 'x-message-id': `sg-msg-${++messageCount}` });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
});

beforeEach(() => {
  requests = [];
  answer = 'accepted';
});

const sendgrid = (): MailTransport =>
  createSendGridTransport({
    apiKey: 'SG.test',
    from: 'noreply@woopdi.test',
    baseUrl: `http://127.0.0.1:${port}/`,
  });

const verifyPayload = { name: 'Ada', url: 'https://app.woopdi.test/verify-email?token=abc123' };

describe('SendGrid transport', () => {
  it('posts the rendered email to /v3/mail/send with the API key and returns the message id', async () => {
    const rendered = renderEmail('verify_email', verifyPayload);
    const result = await sendgrid().send({ to: 'ada@woopdi.test', outboxId: 'outbox-1', ...rendered });

    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/v3/mail/send');
    expect(req!.headers.authorization).toBe('Bearer SG.test');
    expect(req!.body.personalizations[0].to[0].email).toBe('ada@woopdi.test');
    expect(req!.body.from.email).toBe('noreply@woopdi.test');
    expect(req!.body.subject).toBe(rendered.subject);
    expect(req!.body.custom_args).toEqual({ outboxId: 'outbox-1' });

    const content = req!.body.content as { type: string; value: string }[];
    const text = content.find((c) => c.type === 'text/plain');
    const html = content.find((c) => c.type === 'text/html');
    expect(text?.value).toContain(verifyPayload.url);
    expect(html?.value).toContain(`href="${verifyPayload.url}"`);

    expect(result.providerId).toBe(`sg-msg-${messageCount}`);
  });

  it('a SendGrid error answer makes send reject', async () => {
    answer = 'error';
    const rendered = renderEmail('verify_email', verifyPayload);
    await expect(sendgrid().send({ to: 'ada@woopdi.test', ...rendered })).rejects.toThrow();
    expect(requests).toHaveLength(1);
  });
});

describe('email outbox', () => {
  let tdb: TestDatabase;
  let handle: DbHandle;

  beforeAll(async () => {
    const { adminUrl, template } = inject('testDb');
    tdb = await createTestDatabase(adminUrl, template);
    handle = createDb(tdb.url, { max: 3 });
  });

  afterAll(async () => {
    await handle?.close();
    await tdb?.drop();
  });

  const jobsFor = async (outboxId: string) =>
    (await queuedJobs(handle.sql, 'send_email')).filter((job) => job.payload.outboxId === outboxId);
  const countJobs = async () => {
    const [row] = await handle.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs`;
    return row!.n;
  };
  const outboxRow = async (id: string) =>
    handle.db.query.emailOutbox.findFirst({ where: eq(emailOutbox.id, id) });

  const queueVerify = (to = 'ada@woopdi.test') =>
    handle.db.transaction((tx) => queueEmail(tx, { to, template: 'verify_email', payload: verifyPayload }));

  it('queueing an email in a committed transaction leaves one pending row and one send_email job for it', async () => {
    const id = await queueVerify();

    const row = await outboxRow(id);
    expect(row).toMatchObject({
      to: 'ada@woopdi.test',
      template: 'verify_email',
      subject: renderEmail('verify_email', verifyPayload).subject,
      payload: verifyPayload,
      status: 'pending',
      attempts: 0,
      providerId: null,
      sentAt: null,
    });

    const jobs = await jobsFor(id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.payload).toEqual({ outboxId: id });
    expect(jobs[0]!.attempts).toBe(0);
  });

  it('a rolled-back transaction leaves neither the row nor the job', async () => {
    const jobsBefore = await countJobs();
    let queuedId: string | undefined;
    await expect(
      handle.db.transaction(async (tx) => {
        queuedId = await queueEmail(tx, {
          to: 'rollback@woopdi.test',
          template: 'verify_email',
          payload: verifyPayload,
        });
        throw new Error('the change that caused the email failed');
      }),
    ).rejects.toThrow('the change that caused the email failed');

    expect(queuedId).toBeDefined();
    expect(await outboxRow(queuedId!)).toBeUndefined();
    expect(await jobsFor(queuedId!)).toHaveLength(0);
    expect(await countJobs()).toBe(jobsBefore);
  });

  it('an invalid payload is refused before anything is written', async () => {
    const jobsBefore = await countJobs();
    await expect(
      handle.db.transaction((tx) =>
        queueEmail(tx, {
          to: 'x@woopdi.test',
          template: 'verify_email',
          payload: { name: 'x', url: 'not a url' },
        }),
      ),
    ).rejects.toThrow();
    const [row] = await handle.sql<{ n: number }[]>`
      select count(*)::int as n from email_outbox where "to" = 'x@woopdi.test'`;
    expect(row!.n).toBe(0);
    expect(await countJobs()).toBe(jobsBefore);
  });

  it('delivering through SendGrid marks the row sent with the provider id after one attempt', async () => {
    const id = await queueVerify('deliver@woopdi.test');
    await deliverEmail(handle.db, sendgrid(), id);

    expect(requests).toHaveLength(1);
    expect(requests[0]!.body.personalizations[0].to[0].email).toBe('deliver@woopdi.test');
    expect(requests[0]!.body.custom_args).toEqual({ outboxId: id });

    const row = await outboxRow(id);
    expect(row!.status).toBe('sent');
    expect(row!.providerId).toBe(`sg-msg-${messageCount}`);
    expect(row!.attempts).toBe(1);
    expect(row!.lastError).toBeNull();
    expect(row!.sentAt).toBeInstanceOf(Date);
  });

  it('a failing transport marks the row failed with the error, counts the attempt and rethrows', async () => {
    const id = await queueVerify('fail@woopdi.test');
    answer = 'error';
    await expect(deliverEmail(handle.db, sendgrid(), id)).rejects.toThrow();

    const row = await outboxRow(id);
    expect(row!.status).toBe('failed');
    expect(row!.attempts).toBe(1);
    expect(row!.lastError).toBeTruthy();
    expect(row!.sentAt).toBeNull();
  });

  it('a failed email is sent on the next attempt, which clears the error', async () => {
    const id = await queueVerify('retry@woopdi.test');
    const failing: MailTransport = {
      name: 'down',
      send: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    };
    await expect(deliverEmail(handle.db, failing, id)).rejects.toThrow('ECONNREFUSED');
    expect((await outboxRow(id))!.lastError).toContain('ECONNREFUSED');

    await deliverEmail(handle.db, sendgrid(), id);
    const row = await outboxRow(id);
    expect(row!.status).toBe('sent');
    expect(row!.attempts).toBe(2);
    expect(row!.lastError).toBeNull();
  });

  it('delivering an already sent email again sends nothing', async () => {
    const id = await queueVerify('once@woopdi.test');
    await deliverEmail(handle.db, sendgrid(), id);
    await deliverEmail(handle.db, sendgrid(), id);

    expect(requests).toHaveLength(1);
    const row = await outboxRow(id);
    expect(row!.status).toBe('sent');
    expect(row!.attempts).toBe(1);
  });

  it('delivering an unknown outbox id sends nothing', async () => {
    await deliverEmail(handle.db, sendgrid(), '00000000-0000-4000-8000-000000000000');
    expect(requests).toHaveLength(0);
  });

  it('the email is rendered from the stored payload at delivery time', async () => {
    const id = await handle.db.transaction((tx) =>
      queueEmail(tx, {
        to: 'invitee@woopdi.test',
        template: 'invitation',
        payload: {
          inviterName: 'Grace',
          organizationName: 'Analytical Engines',
          role: 'ADMIN',
          url: 'https://app.woopdi.test/invitations/accept?token=t0k',
        },
      }),
    );
    await deliverEmail(handle.db, sendgrid(), id);
    expect(requests[0]!.body.subject).toBe('Grace invited you to join Analytical Engines on Woopdi');
    const text = (requests[0]!.body.content as { type: string; value: string }[]).find(
      (c) => c.type === 'text/plain',
    );
    expect(text!.value).toContain('https://app.woopdi.test/invitations/accept?token=t0k');
  });
});
