// Outbound webhooks end to end: changes through the real router, the real worker delivering to real
// local HTTP receivers, signatures verified on the receiver's side with the `standardwebhooks`
// package. Retries run on a shortened schedule; the SSRF cases use an injected resolver (nothing is
// ever sent to the addresses it names).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callerFor, createTestDeps, type TestDeps } from '@woopdi/api/testing';
import type { HostResolver } from '@woopdi/core';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, uniqueEmail } from './helpers.js';
import { until } from './processes.js';

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Decides each answer (the nth request, 1-based); default 200. */
  answer: (n: number, req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

const receivers: Receiver[] = [];

async function startReceiver(answer?: Receiver['answer']): Promise<Receiver> {
  const received: Received[] = [];
  const receiver: Receiver = {
    url: '',
    received,
    answer: answer ?? ((_n, _req, res) => void res.writeHead(200).end('ok')),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      receiver.answer(received.length, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receivers.push(receiver);
  return receiver;
}

/** What a receiver does: verify with the endpoint's secret (throws when the signature is wrong). */
const verify = (secret: string, r: Received) =>
  new Webhook(secret).verify(r.body, {
    'webhook-id': r.headers['webhook-id']!,
    'webhook-timestamp': r.headers['webhook-timestamp']!,
    'webhook-signature': r.headers['webhook-signature']!,
  }) as { type: string; organizationId: string; timestamp: string; data: Record<string, unknown> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface World {
  deps: TestDeps;
  worker: WorkerHandle;
}

async function world(env: Record<string, string>, resolver?: HostResolver): Promise<World> {
  const deps = await createTestDeps({ WEBHOOK_TIMEOUT_MS: '500', ...env });
  if (resolver) deps.webhookResolver = resolver;
  const worker = await startWorker({ ...deps, pollInterval: 50 });
  return { deps, worker };
}

async function ownerWithTeam(deps: TestDeps) {
  const email = uniqueEmail('hookowner');
  const res = await callerFor(deps).auth.signup({ email, password: PASSWORD });
  const api = callerFor(deps, res.tokens.accessToken);
  const org = await api.organizations.create({ name: `Hooks ${email.slice(10, 20)}` });
  return { api, organizationId: org.id, userId: res.user.id, email };
}

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

describe('deliveries to local receivers (private targets allowed, short retries)', () => {
  let w: World;
  beforeAll(async () => {
    w = await world({
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms',
      WEBHOOK_DISABLE_AFTER: '5d',
    });
  });
  afterAll(async () => {
    await w?.worker.stop();
    await w?.deps.close();
  });

  it('a member added → one delivery, signed so standardwebhooks verifies it; unselected types send nothing', async () => {
    const { deps } = w;
    const owner = await ownerWithTeam(deps);
    const receiver = await startReceiver();
    const { webhook, secret } = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: receiver.url,
      eventTypes: ['member.added'],
    });
    expect(secret).toMatch(/^whsec_/);
    const inviteeEmail = uniqueEmail('invitee');
    const invitee = await callerFor(deps).auth.signup({ email: inviteeEmail, password: PASSWORD });
    await owner.api.invitations.create({
      organizationId: owner.organizationId,
      email: inviteeEmail,
      role: 'MEMBER',
    });
    const [mail] = await deps.sql<{ payload: { url: string } }[]>`
      select payload from email_outbox where "to" = ${inviteeEmail} and template = 'invitation'`;
    const token = new URL(String(mail!.payload.url)).searchParams.get('token')!;
    await callerFor(deps, invitee.tokens.accessToken).invitations.accept({ token });

    await until('the delivery', () => receiver.received.length >= 1);
    await sleep(300); // invitation.created / invitation.accepted were not selected: nothing else comes
    expect(receiver.received).toHaveLength(1);
    const event = verify(secret, receiver.received[0]!);
    expect(event).toMatchObject({
      type: 'member.added',
      organizationId: owner.organizationId,
      data: { userId: invitee.user.id, email: inviteeEmail, role: 'MEMBER' },
    });
    expect(receiver.received[0]!.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(() => verify(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, receiver.received[0]!)).toThrow();
    const rows = await deps.sql<{ event_type: string; status: string }[]>`
      select event_type, status from webhook_deliveries where endpoint_id = ${webhook.id}`;
    expect(rows.map((r) => [r.event_type, r.status])).toEqual([['member.added', 'succeeded']]);
  });

  it('500 twice then 200 → delivered, the same webhook-id three times, every attempt recorded', async () => {
    const owner = await ownerWithTeam(w.deps);
    const receiver = await startReceiver(
      (n, _req, res) => void res.writeHead(n <= 2 ? 500 : 200).end(`answer ${n}`),
    );
    const { webhook, secret } = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: receiver.url,
    });
    const { deliveryId, webhookMessageId } = await owner.api.webhooks.test({
      organizationId: owner.organizationId,
      webhookId: webhook.id,
    });
    await until('three attempts', () => receiver.received.length >= 3);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([
      webhookMessageId,
      webhookMessageId,
      webhookMessageId,
    ]);
    for (const r of receiver.received) expect(verify(secret, r).type).toBe('webhook.test');
    const log = await until('the delivery marked succeeded', async () => {
      const { deliveries } = await owner.api.webhooks.deliveries({
        organizationId: owner.organizationId,
        webhookId: webhook.id,
      });
      const d = deliveries.find((x) => x.id === deliveryId);
      return d?.status === 'succeeded' ? d : undefined;
    });
    expect(log.attempts).toBe(3);
    expect(log.attemptLog.map((a) => a.statusCode)).toEqual([200, 500, 500]);
    expect(log.attemptLog[2]!.responseExcerpt).toBe('answer 1');

    // Redeliver sends it once more, with the same id.
    await owner.api.webhooks.redeliver({
      organizationId: owner.organizationId,
      webhookId: webhook.id,
      deliveryId,
    });
    await until('the redelivery', () => receiver.received.length >= 4);
    expect(receiver.received[3]!.headers['webhook-id']).toBe(webhookMessageId);
  });

  it('a receiver that hangs → the timeout is recorded and the delivery retried', async () => {
    const owner = await ownerWithTeam(w.deps);
    const receiver = await startReceiver((n, _req, res) => {
      if (n === 1) return; // never answers: the sender gives up after WEBHOOK_TIMEOUT_MS
      res.writeHead(204).end();
    });
    const { webhook } = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: receiver.url,
    });
    const { deliveryId } = await owner.api.webhooks.test({
      organizationId: owner.organizationId,
      webhookId: webhook.id,
    });
    const log = await until('delivered after the timeout', async () => {
      const { deliveries } = await owner.api.webhooks.deliveries({
        organizationId: owner.organizationId,
        webhookId: webhook.id,
      });
      const d = deliveries.find((x) => x.id === deliveryId);
      return d?.status === 'succeeded' ? d : undefined;
    });
    expect(log.attemptLog.map((a) => [a.statusCode, a.error])).toEqual([
      [204, null],
      [null, 'timed out after 500 ms'],
    ]);
  });

  it('after a secret rotation both the new and the previous secret verify, during the overlap', async () => {
    const owner = await ownerWithTeam(w.deps);
    const receiver = await startReceiver();
    const created = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: receiver.url,
    });
    const rotated = await owner.api.webhooks.rotateSecret({
      organizationId: owner.organizationId,
      webhookId: created.webhook.id,
    });
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.webhook.previousSecretExpiresAt).not.toBeNull();
    await owner.api.webhooks.test({ organizationId: owner.organizationId, webhookId: created.webhook.id });
    await until('the delivery', () => receiver.received.length >= 1);
    const r = receiver.received[0]!;
    expect(r.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(rotated.secret, r).type).toBe('webhook.test');
    expect(verify(created.secret, r).type).toBe('webhook.test');
  });

  it('a task that ends sends task.succeeded, and a rename organization.updated', async () => {
    const owner = await ownerWithTeam(w.deps);
    const receiver = await startReceiver();
    const { secret } = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: receiver.url,
      eventTypes: ['task.succeeded', 'organization.updated'],
    });
    const { taskId } = await owner.api.tasks.start({
      organizationId: owner.organizationId,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 0 },
    });
    await owner.api.organizations.update({
      organizationId: owner.organizationId,
      name: 'Hooked and renamed',
    });
    await until('two events', () => receiver.received.length >= 2);
    const events = receiver.received.map((r) => verify(secret, r));
    expect(events.map((e) => e.type).sort()).toEqual(['organization.updated', 'task.succeeded']);
    expect(events.find((e) => e.type === 'task.succeeded')!.data).toEqual({
      taskId,
      kind: 'example_streaming',
    });
  });
});

describe('auto-disable after continuous failure', () => {
  let w: World;
  beforeAll(async () => {
    w = await world({
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms',
      WEBHOOK_DISABLE_AFTER: '250ms',
    });
  });
  afterAll(async () => {
    await w?.worker.stop();
    await w?.deps.close();
  });

  it('an endpoint failing for the whole period is disabled, and the ADMINs get an email', async () => {
    const owner = await ownerWithTeam(w.deps);
    const receiver = await startReceiver((_n, _req, res) => void res.writeHead(500).end('down'));
    const { webhook } = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: receiver.url,
    });
    await owner.api.webhooks.test({ organizationId: owner.organizationId, webhookId: webhook.id });
    const disabled = await until(
      'the endpoint disabled',
      async () => {
        const [row] = await w.deps.sql<{ enabled: boolean; disabled_reason: string | null }[]>`
          select enabled, disabled_reason from webhook_endpoints where id = ${webhook.id}`;
        return row && !row.enabled ? row : undefined;
      },
      10_000,
    );
    expect(disabled.disabled_reason).toContain('HTTP 500');
    const mails = await w.deps.sql<{ payload: { endpointUrl: string } }[]>`
      select payload from email_outbox where "to" = ${owner.email} and template = 'webhook_disabled'`;
    expect(mails).toHaveLength(1);
    expect(mails[0]!.payload.endpointUrl).toBe(receiver.url);
    const audits = await w.deps.sql`
      select id from audit_log where organization_id = ${owner.organizationId} and action = 'webhook.disabled'`;
    expect(audits).toHaveLength(1);
    const sent = receiver.received.length;
    await sleep(400);
    expect(receiver.received.length).toBe(sent); // no more attempts once disabled
    // A disabled endpoint refuses a test until it is enabled again.
    const refused = await owner.api.webhooks
      .test({ organizationId: owner.organizationId, webhookId: webhook.id })
      .catch((e: { code?: string }) => e.code);
    expect(refused).toBe('PRECONDITION_FAILED');
  });
});

describe('SSRF guard (private targets not allowed; an injected resolver)', () => {
  let w: World;
  const answers = new Map<string, string>();
  const resolver: HostResolver = async (host) => {
    const address = answers.get(host);
    if (!address) throw new Error('ENOTFOUND');
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  beforeAll(async () => {
    w = await world({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false', WEBHOOK_RETRY_SCHEDULE: '100ms' }, resolver);
  });
  afterAll(async () => {
    await w?.worker.stop();
    await w?.deps.close();
  });

  it.each([
    ['10.0.0.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['127.0.0.1', 'loopback'],
  ])('a name resolving to %s (%s) is refused at create', async (address) => {
    const owner = await ownerWithTeam(w.deps);
    const host = `target-${address.replace(/\./g, '-')}.example`;
    answers.set(host, address);
    const error = await owner.api.webhooks
      .create({ organizationId: owner.organizationId, url: `https://${host}/hook` })
      .then(
        () => undefined,
        (e: { code?: string; message?: string }) => e,
      );
    expect(error?.code).toBe('BAD_REQUEST');
    expect(error?.message).toContain(`resolves to ${address}`);
  });

  it('a name that resolved to a public address at create and to 127.0.0.1 later (rebinding) is refused at delivery', async () => {
    const owner = await ownerWithTeam(w.deps);
    const receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    answers.set('rebind.example', '93.184.215.14');
    const { webhook } = await owner.api.webhooks.create({
      organizationId: owner.organizationId,
      url: `http://rebind.example:${port}/hook`,
    });
    // Now the name points at this machine, where a receiver listens: it must never be reached.
    answers.set('rebind.example', '127.0.0.1');
    const { deliveryId } = await owner.api.webhooks.test({
      organizationId: owner.organizationId,
      webhookId: webhook.id,
    });
    const log = await until('the refused attempts', async () => {
      const { deliveries } = await owner.api.webhooks.deliveries({
        organizationId: owner.organizationId,
        webhookId: webhook.id,
      });
      const d = deliveries.find((x) => x.id === deliveryId);
      return d?.status === 'failed' ? d : undefined;
    });
    expect(log.attemptLog.length).toBe(2);
    for (const a of log.attemptLog) {
      expect(a.statusCode).toBeNull();
      expect(a.error).toContain('refused');
      expect(a.error).toContain('127.0.0.1');
    }
    expect(receiver.received).toEqual([]);
  });
});
