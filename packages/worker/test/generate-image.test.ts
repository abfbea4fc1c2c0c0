// generate_image end to end: the API starts it, a real graphile-worker runs it against a local HTTP
// server standing in for Replicate's predictions API (which also serves the output image), and the
// PNG lands in the organization's storage as an asset.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { type LocalStorage, storeAsset } from '@woopdi/core';
import { assets, organizations, subscriptions } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createGenerateImageKind, startWorker, type WorkerHandle } from '../src/index.js';
import {
  expectWellFormed,
  failedAttempt,
  orgWithAdmin,
  retryNow,
  runTaskJobs,
  storedEvents,
  taskRow,
  waitForStatus,
} from './task-helpers.js';

type Status = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
interface Scenario {
  /** Create calls answered 500 before one succeeds. */
  createFailures: number;
  /** Polls answered 500 (after the first poll). */
  pollFailures: number;
  /** The status of each successive poll (the last one repeats). */
  statuses: Status[];
  error?: string;
  /** The first poll is answered 429 with Retry-After. */
  throttleFirstPoll: boolean;
}

interface FakeReplicate {
  url: string;
  scenario: Scenario;
  requests: { method: string; path: string; authorization?: string; body: unknown }[];
  created: string[];
  close(): Promise<void>;
}

const OUTPUT = await sharp({
  create: { width: 128, height: 128, channels: 3, background: { r: 0, g: 0, b: 255 } },
})
  .png()
  .toBuffer();
const LOGO = await sharp({
  create: { width: 16, height: 16, channels: 3, background: { r: 255, g: 0, b: 0 } },
})
  .png()
  .toBuffer();

async function startFakeReplicate(): Promise<FakeReplicate> {
  const fake: Omit<FakeReplicate, 'url' | 'close'> = {
    scenario: { createFailures: 0, pollFailures: 0, statuses: ['succeeded'], throttleFirstPoll: false },
    requests: [],
    created: [],
  };
  const polls = new Map<string, number>();
  let throttled = false;
  const readBody = async (req: IncomingMessage) => {
    let text = '';
    for await (const c of req) text += c;
    return text ? JSON.parse(text) : undefined;
  };
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const body = await readBody(req);
    fake.requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
    const json = (status: number, data: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(data));
    const base = `http://${req.headers.host}`;
    const s = fake.scenario;

    if (req.method === 'POST' && path === '/v1/models/test-owner/test-model/predictions') {
      if (s.createFailures > 0) {
        s.createFailures--;
        return json(500, { detail: 'Internal server error' });
      }
      const id = `pred${fake.created.length + 1}`;
      fake.created.push(id);
      return json(201, { id, status: 'starting', urls: { get: `${base}/v1/predictions/${id}` } });
    }
    const poll = path.match(/^\/v1\/predictions\/([\w]+)$/);
    if (req.method === 'GET' && poll) {
      const id = poll[1]!;
      if (!fake.created.includes(id)) return json(404, { detail: 'Not found.' });
      if (s.throttleFirstPoll && !throttled) {
        throttled = true;
        return json(429, { detail: 'Request was throttled.' }, { 'retry-after': '0' });
      }
      const n = polls.get(id) ?? 0;
      if (n > 0 && s.pollFailures > 0) {
        s.pollFailures--;
        return json(502, { detail: 'Bad gateway' });
      }
      polls.set(id, n + 1);
      const status = s.statuses[Math.min(n, s.statuses.length - 1)]!;
      return json(200, {
        id,
        status,
        output: status === 'succeeded' ? [`${base}/files/${id}.png`] : null,
        error: status === 'failed' ? (s.error ?? 'failed') : null,
      });
    }
    if (req.method === 'GET' && path.startsWith('/files/')) {
      return void res.writeHead(200, { 'content-type': 'image/png' }).end(OUTPUT);
    }
    json(404, { detail: `fake Replicate: no route for ${req.method} ${path}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // The same object the server reads: tests replace `scenario` on it.
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

let fake: FakeReplicate;
let deps: TestDeps;
let worker: WorkerHandle;
beforeAll(async () => {
  fake = await startFakeReplicate();
  deps = await createTestDeps({
    REPLICATE_API_BASE: fake.url,
    REPLICATE_MODEL: 'test-owner/test-model',
    REPLICATE_API_TOKEN: 'r8_server_token',
    // Billing on (no call reaches Stripe here): without it every organization is on the free plan.
    STRIPE_SECRET_KEY: 'sk_test_woopdi_images',
  });
  worker = await startWorker({
    ...deps,
    pollInterval: 50,
    kinds: { generate_image: createGenerateImageKind({ pollIntervalMs: 10 }) },
  });
});
afterAll(async () => {
  await worker.stop();
  await deps.close();
  await fake.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

/** An organization on the Pro plan (an active subscription), with its ADMIN's API. */
async function proOrg() {
  const { api, org, userId } = await orgWithAdmin(deps, 'Images');
  await deps.db.update(organizations).set({ plan: 'pro' }).where(eq(organizations.id, org.id));
  await deps.db.insert(subscriptions).values({
    organizationId: org.id,
    stripeCustomerId: `cus_${org.id.slice(0, 8)}`,
    stripeSubscriptionId: `sub_${org.id.slice(0, 8)}`,
    priceId: 'price_pro',
    plan: 'pro',
    status: 'active',
  });
  return { api, org, userId };
}

const pixel = async (png: Buffer, x: number, y: number) => {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i], data[i + 1], data[i + 2]];
};

it('starting → processing → succeeded: events in order, the PNG stored with the logo, downloadable', async () => {
  fake.scenario = {
    createFailures: 0,
    pollFailures: 0,
    statuses: ['starting', 'processing', 'succeeded'],
    throttleFirstPoll: true,
  };
  const { api, org, userId } = await proOrg();
  const orgToken = 'r8_org_own_token_0123456789';
  await api.organizations.secrets.set({
    organizationId: org.id,
    name: 'REPLICATE_API_TOKEN',
    value: orgToken,
  });
  const logo = await storeAsset(deps, {
    organizationId: org.id,
    uploadedBy: userId,
    filename: 'logo.png',
    contentType: 'image/png',
    source: 'upload',
    meta: { role: 'logo' },
    body: LOGO,
  });

  const prompt = 'a lighthouse at dawn, watercolour';
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'generate_image',
    input: { prompt, guidance: 4, steps: 30 },
  });
  const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
  expect(row.status, row.error ?? '').toBe('succeeded');

  const events = await storedEvents(deps, taskId);
  expectWellFormed(events);
  const stage = (name: string) => [
    ['stage_start', name],
    ['stage_end', name],
    ['progress', null],
  ];
  const shape = events.map((e) => [e.type, (e.data?.stage ?? e.data?.status ?? null) as string | null]);
  expect(shape).toEqual([
    ['task_start', null],
    ['stage_start', 'requesting'],
    ['update', 'starting'],
    ['stage_end', 'requesting'],
    ['progress', null],
    ['stage_start', 'generating'],
    ['update', 'starting'],
    ['update', 'processing'],
    ['update', 'succeeded'],
    ['stage_end', 'generating'],
    ['progress', null],
    ...stage('downloading'),
    ...stage('processing'),
    ...stage('storing'),
    ['task_end', null],
  ]);
  expect(events.filter((e) => e.type === 'progress').map((e) => e.current)).toEqual([1, 2, 3, 4, 5]);

  // Replicate was called with the organization's own token and the model's input.
  const create = fake.requests.find((r) => r.method === 'POST')!;
  expect(create.authorization).toBe(`Bearer ${orgToken}`);
  expect(create.body).toEqual({
    input: { prompt, guidance: 4, num_inference_steps: 30, output_format: 'png' },
  });
  expect(fake.requests.filter((r) => r.path.startsWith('/v1/predictions/')).length).toBe(4); // one 429, three polls

  const end = events.at(-1)!;
  const { assetId, downloadUrl } = end.data as { assetId: string; downloadUrl: string };
  expect(row.result).toMatchObject({ assetId, downloadUrl });
  const [asset] = await deps.db.select().from(assets).where(eq(assets.id, assetId));
  expect(asset).toMatchObject({
    organizationId: org.id,
    uploadedBy: userId,
    source: 'ai_generation',
    status: 'ready',
    contentType: 'image/png',
    meta: { prompt, guidance: 4, steps: 30, predictionId: fake.created.at(-1), logoAssetId: logo.id, taskId },
  });
  const stored = Buffer.concat(await (await deps.storage.read(asset!.storageKey)).toArray());
  expect(createHash('sha256').update(stored).digest('hex')).toBe(asset!.checksum);
  expect(stored.length).toBe(asset!.size);
  const meta = await sharp(stored).metadata();
  expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);
  expect(await pixel(stored, 10, 110)).toEqual([255, 0, 0]); // the logo, bottom-left
  expect(await pixel(stored, 100, 20)).toEqual([0, 0, 255]); // the image

  // The download URL is signed for this object, under its name.
  const url = new URL(downloadUrl);
  const key = decodeURIComponent(url.pathname.slice('/storage/'.length));
  expect(key).toBe(asset!.storageKey);
  expect((deps.storage as LocalStorage).verify('GET', key, url.searchParams)).toMatchObject({
    ok: true,
    grant: { contentType: 'image/png', downloadName: asset!.filename },
  });
});

it('Replicate failing twice (HTTP 5xx) then succeeding: retried, and the retry resumes the same prediction', async () => {
  fake.scenario = {
    createFailures: 1,
    pollFailures: 1,
    statuses: ['processing', 'succeeded'],
    throttleFirstPoll: false,
  };
  const createdBefore = fake.created.length;
  const { api, org } = await proOrg();
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'generate_image',
    input: { prompt: 'a fox' },
  });

  // Attempt 1: creating the prediction fails with 500. Attempt 2: created, then a poll fails with 502.
  for (const attempt of [1, 2]) {
    const job = await failedAttempt(deps, attempt);
    expect(job.last_error).toMatch(/Replicate answered 50[02]/);
    await retryNow(deps, job.id);
  }
  const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
  expect(row.status, row.error ?? '').toBe('succeeded');
  expect(row.attempts).toBe(3);
  expect(fake.created.length - createdBefore).toBe(1); // one prediction, paid once
  expect(
    fake.requests.every((r) => r.path.startsWith('/files/') || r.authorization === 'Bearer r8_server_token'),
  ).toBe(true);

  const events = await storedEvents(deps, taskId);
  expectWellFormed(events);
  const updates = events.filter((e) => e.type === 'update').map((e) => e.message);
  expect(updates).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^Attempt 1 of 4 failed: Replicate answered 500/),
      expect.stringMatching(/^Attempt 2 of 4 failed: Replicate answered 502/),
      expect.stringMatching(/^Resuming prediction pred/),
    ]),
  );
  expect(events.at(-1)).toMatchObject({ type: 'task_end', data: { assetId: expect.any(String) } });
  const stored = await deps.db
    .select()
    .from(assets)
    .where(and(eq(assets.organizationId, org.id), eq(assets.source, 'ai_generation')));
  expect(stored).toHaveLength(1);
});

it("Replicate answering 'failed' ends the task with task_error carrying its message, without retrying", async () => {
  const reason = 'NSFW content detected. Try running it again, or try a different prompt.';
  fake.scenario = {
    createFailures: 0,
    pollFailures: 0,
    statuses: ['processing', 'failed'],
    error: reason,
    throttleFirstPoll: false,
  };
  const { api, org } = await proOrg();
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'generate_image',
    input: { prompt: 'x' },
  });
  const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
  expect(row.status).toBe('failed');
  expect(row.attempts).toBe(1);
  expect(row.error).toContain(reason);

  const events = await storedEvents(deps, taskId);
  expectWellFormed(events);
  expect(events.at(-1)).toMatchObject({ type: 'task_error', message: expect.stringContaining(reason) });
  expect(events.some((e) => e.type === 'update' && /Retrying/.test(e.message))).toBe(false);
  expect(await runTaskJobs(deps)).toEqual([]); // the job completed: nothing left to retry
  expect((await taskRow(deps, taskId)).finishedAt).not.toBeNull();
  const stored = await deps.db.select().from(assets).where(eq(assets.organizationId, org.id));
  expect(stored).toEqual([]);
});
