// `pnpm bench:webhooks`: outbound webhook delivery latency, change committed → the receiver has it.
//
// Woopdi in service mode (api and worker as separate processes, real PostgreSQL and Redis), one
// organization with one endpoint on a local receiver (this process, 127.0.0.1; the SSRF guard lets
// it through with WEBHOOK_ALLOW_PRIVATE_TARGETS=true). BENCH_WEBHOOK_EVENTS renames (default 200),
// one at a time: each `PUT /api/organizations/{id}` commits its change and the organization.updated
// delivery in one transaction; the figure is the time from the PUT's answer (the commit is before
// it) to the signed request arriving at the receiver, whose signature is verified. Also printed:
// from the PUT being sent (an upper bound that includes the request itself).
// Environment: as pnpm bench:tasks (BENCH_ADMIN_URL, REDIS_URL, BENCH_SOURCE=1).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import {
  freePort,
  intEnv,
  ms,
  quantile,
  scratchDatabase,
  seedAccount,
  startApi,
  startWorkerProcess,
  stopProcess,
  table,
} from './pipeline/processes.js';

const EVENTS = intEnv('BENCH_WEBHOOK_EVENTS', 200);
const WARMUP = intEnv('BENCH_WARMUP', 20);

async function main() {
  let arrived: ((at: number, body: string, headers: Record<string, string>) => void) | undefined;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      res.writeHead(204).end();
      arrived?.(at, Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const db = await scratchDatabase('webhooks', true);
  const port = await freePort();
  const env = { databaseUrl: db.url, port, extra: { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' } };
  const api = await startApi(env);
  const worker = await startWorkerProcess(env);
  try {
    const base = `http://127.0.0.1:${port}`;
    const { token, organizationId } = await seedAccount(base);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${base}/api/organizations/${organizationId}/webhooks`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ url: receiverUrl, eventTypes: ['organization.updated'] }),
    });
    if (!created.ok) throw new Error(`webhooks.create: ${created.status} ${await created.text()}`);
    const { secret } = (await created.json()) as { secret: string };
    const verifier = new Webhook(secret);

    const one = async (i: number) => {
      const name = `Bench rename ${i}`;
      const got = new Promise<{ at: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`event ${i} did not arrive within 10 s`)), 10_000);
        arrived = (at, body, headers) => {
          const event = verifier.verify(body, headers) as { data: { name: string } };
          if (event.data.name !== name) return; // a late duplicate of an earlier one: not this event
          clearTimeout(timer);
          resolve({ at });
        };
      });
      const sent = performance.now();
      const res = await fetch(`${base}/api/organizations/${organizationId}`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ name }),
      });
      const answered = performance.now();
      if (!res.ok) throw new Error(`rename: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      const { at } = await got;
      return { committed: at - answered, sent: at - sent };
    };

    for (let i = 0; i < WARMUP; i++) await one(-1 - i);
    const committed: number[] = [];
    const sentToReceived: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const r = await one(i);
      committed.push(Math.max(0, r.committed));
      sentToReceived.push(r.sent);
    }
    console.log(`\nwebhook delivery latency, ${EVENTS} events one at a time (after ${WARMUP} warm-up)\n`);
    table(
      ['measure', 'p50', 'p95', 'p99', 'max'],
      [
        ['committed (PUT answered) → received', committed],
        ['PUT sent → received', sentToReceived],
      ].map(([label, v]) => {
        const values = v as number[];
        return [
          label as string,
          ms(quantile(values, 0.5)),
          ms(quantile(values, 0.95)),
          ms(quantile(values, 0.99)),
          ms(Math.max(...values)),
        ];
      }),
    );
  } finally {
    await stopProcess(worker);
    await stopProcess(api);
    await db.drop();
    receiver.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
