// The shared fan-out of task events (issue #12) against the real server, bus and worker: one bus
// subscription per followed task however many sockets follow it (plain websocket, SSE, tRPC), given
// back when the last one leaves; and a client that stops reading is dropped at its buffer bound and
// resumes by last event id, receiving the rest exactly once.
import {
  createTRPCClient,
  createWSClient,
  type TRPCClient,
  type WebSocketClientOptions,
  wsLink,
} from '@trpc/client';
import { type AppRouter, getTaskFanout } from '@woopdi/api';
import { callerFor, createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { type BusSubscription, type EventBus, metrics, type TaskEvent, taskChannel } from '@woopdi/core';
import { defineKind, startWorker, type WorkerHandle } from '@woopdi/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type ApiServer, createRuntime, type Runtime, startApiServer } from '../src/index.js';
import { PASSWORD, uniqueEmail } from './helpers.js';

/** The real bus, counting the subscriptions open on each channel. */
function countingBus(inner: EventBus) {
  const open = new Map<string, number>();
  const add = (channel: string, n: number) => open.set(channel, (open.get(channel) ?? 0) + n);
  const bus: EventBus = {
    kind: inner.kind,
    publish: (channel, event) => inner.publish(channel, event),
    close: () => inner.close(),
    subscribe<T>(channel: string, options?: { signal?: AbortSignal }): BusSubscription<T> {
      const subscription = inner.subscribe<T>(channel, options);
      add(channel, 1);
      let counted = true;
      const done = () => {
        if (counted) add(channel, -1);
        counted = false;
      };
      return {
        ready: subscription.ready,
        close() {
          done();
          subscription.close();
        },
        async *[Symbol.asyncIterator]() {
          try {
            yield* subscription;
          } finally {
            done();
          }
        },
      };
    },
  };
  return { bus, open: (channel: string) => open.get(channel) ?? 0 };
}

interface Setup {
  deps: TestDeps;
  counted: ReturnType<typeof countingBus>;
  runtime: Runtime;
  server: ApiServer;
  worker: WorkerHandle;
}

async function setup(
  env: Record<string, string> = {},
  kinds: Parameters<typeof startWorker>[0]['kinds'] = {},
) {
  const base = await createTestDeps(env);
  const counted = countingBus(base.bus);
  const deps: TestDeps = { ...base, bus: counted.bus };
  const runtime = createRuntime(deps.config, deps.databaseUrl, deps.logger, counted.bus);
  const server = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
  const worker = await startWorker({ ...deps, pollInterval: 50, kinds });
  return { deps, counted, runtime, server, worker } satisfies Setup;
}

async function teardown(s: Setup | undefined) {
  await s?.worker.stop();
  await s?.server.stop();
  await s?.runtime.close();
  await s?.deps.close();
}

async function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string | (() => string),
  ms = 15_000,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
}

async function owner(deps: TestDeps) {
  const { tokens, user } = await callerFor(deps).auth.signup({
    email: uniqueEmail('fanout'),
    password: PASSWORD,
  });
  const api = callerFor(deps, tokens.accessToken);
  const org = await api.organizations.create({ name: `Fanout ${user.id.slice(0, 8)}` });
  return { token: tokens.accessToken, userId: user.id, api, org };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface Socket {
  ws: WebSocket;
  seqs: number[];
  closed: Promise<{ code: number; seqs: number[] }>;
}

function openSocket(url: string): Socket {
  const ws = new WebSocket(url);
  const seqs: number[] = [];
  ws.on('message', (data) => seqs.push((JSON.parse(String(data)) as TaskEvent).seq));
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; seqs: number[] }>((resolve) =>
    ws.once('close', (code) => resolve({ code, seqs })),
  );
  return { ws, seqs, closed };
}

/** Reads an SSE response until it ends; the seq of each event frame. */
async function sseSeqs(res: Response, onEvent: () => void): Promise<number[]> {
  const seqs: number[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const id = /^id: (\d+)$/m.exec(buffer.slice(0, end));
      if (id) {
        seqs.push(Number(id[1]));
        onEvent();
      }
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
    }
  }
  return seqs;
}

describe('one bus subscription per task, shared by every socket', () => {
  let s: Setup;
  beforeAll(async () => {
    // One user opens 200 streams from one address here: above WS_MAX_PER_USER and WS_MAX_PER_ADDRESS.
    s = await setup({ WS_MAX_PER_USER: '1000', WS_MAX_PER_ADDRESS: '1000' });
  });
  afterAll(() => teardown(s));

  it('200 sockets (plain ws, SSE, tRPC) on one task: one subscription; one leaves mid-stream, the others get every event; the last one out releases it', async () => {
    const o = await owner(s.deps);
    const fanout = getTaskFanout(s.deps);
    const { taskId } = await o.api.tasks.start({
      organizationId: o.org.id,
      kind: 'example_streaming',
      input: { steps: 100, intervalMs: 30 },
    });
    const base = s.server.url.replace('http', 'ws');
    const channel = taskChannel(taskId);

    const sockets = Array.from({ length: 180 }, () =>
      openSocket(`${base}/tasks/${taskId}/ws?token=${o.token}`),
    );
    await Promise.all(sockets.map((x) => new Promise((r) => x.ws.once('open', r))));
    let sseEvents = 0;
    const sse = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await fetch(`${s.server.url}/tasks/${taskId}/events`, {
          headers: { authorization: `Bearer ${o.token}` },
        });
        expect(res.status).toBe(200);
        // Wrapped, or this async function would wait for the whole stream.
        return { done: sseSeqs(res, () => sseEvents++) };
      }),
    );
    const trpcClients: Array<{ close(): Promise<void> | void }> = [];
    const trpc = Array.from({ length: 10 }, () => {
      const client = createWSClient({
        url: `${base}/trpc`,
        WebSocket: WebSocket as unknown as WebSocketClientOptions['WebSocket'],
        connectionParams: { token: o.token },
      });
      trpcClients.push(client);
      const api: TRPCClient<AppRouter> = createTRPCClient<AppRouter>({ links: [wsLink({ client })] });
      const seqs: number[] = [];
      const done = new Promise<number[]>((resolve, reject) => {
        api.tasks.events.subscribe(
          { taskId },
          {
            onData: ({ data }) => void seqs.push((data as TaskEvent).seq),
            onComplete: () => resolve(seqs),
            onError: reject,
          },
        );
      });
      return { seqs, done };
    });

    try {
      // Everyone is following (and the task is still running): one task subscription for all 200.
      await waitFor(
        () =>
          sockets.every((x) => x.seqs.length > 0) &&
          trpc.every((x) => x.seqs.length > 0) &&
          sseEvents >= 10 &&
          fanout.stats().followers === 200,
        () =>
          `all 200 followers to receive events (fan-out ${JSON.stringify(fanout.stats())}, ${sseEvents} SSE events)`,
      );
      expect((await o.api.tasks.get({ taskId })).status).toBe('running');
      expect(fanout.stats().taskSubscriptions).toBe(1);
      expect(s.counted.open(channel)).toBe(1);
      // Access loss is watched once per user, too.
      expect(s.counted.open(`user:${o.userId}`)).toBe(1);

      // One leaves mid-stream.
      const leaver = sockets[0]!;
      leaver.ws.close();
      const left = await leaver.closed;
      expect(left.seqs.length).toBeLessThan(102);
      expect(left.seqs).toEqual(range(1, left.seqs.length));
      await waitFor(() => fanout.stats().followers === 199, 'the leaver to be detached');
      expect(s.counted.open(channel)).toBe(1);

      // The others receive every event, once, in order, and end after task_end.
      for (const x of await Promise.all(sockets.slice(1).map((x) => x.closed))) {
        expect(x.code).toBe(1000);
        expect(x.seqs).toEqual(range(1, 102));
      }
      for (const seqs of await Promise.all(sse.map((x) => x.done))) expect(seqs).toEqual(range(1, 102));
      for (const seqs of await Promise.all(trpc.map((x) => x.done))) expect(seqs).toEqual(range(1, 102));

      // The last one out gave the subscriptions back.
      await waitFor(
        () => fanout.stats().taskSubscriptions === 0 && s.counted.open(channel) === 0,
        'the task subscription to be released',
      );
      await waitFor(() => fanout.stats().followers === 0, 'every follower to be detached');
      // The user's access subscription lingers a few seconds for their next stream: still only one.
      expect(s.counted.open(`user:${o.userId}`)).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all(trpcClients.map((c) => c.close()));
    }
  });

  it('followers who all leave a running task release its subscription at once', async () => {
    const o = await owner(s.deps);
    const fanout = getTaskFanout(s.deps);
    const { taskId } = await o.api.tasks.start({
      organizationId: o.org.id,
      kind: 'example_streaming',
      input: { steps: 300, intervalMs: 20 },
    });
    const base = s.server.url.replace('http', 'ws');
    const sockets = Array.from({ length: 5 }, () =>
      openSocket(`${base}/tasks/${taskId}/ws?token=${o.token}`),
    );
    await waitFor(() => sockets.every((x) => x.seqs.length >= 2), 'events on every socket');
    expect(s.counted.open(taskChannel(taskId))).toBe(1);
    for (const x of sockets) x.ws.close();
    await Promise.all(sockets.map((x) => x.closed));
    await waitFor(() => s.counted.open(taskChannel(taskId)) === 0, 'the subscription to be released');
    expect(fanout.stats().taskSubscriptions).toBe(0);
    expect((await o.api.tasks.get({ taskId })).status).toBe('running');
    await o.api.tasks.cancel({ taskId });
  });
});

describe('a client that does not read', () => {
  let s: Setup;
  // The task emits 16 KiB events as fast as it can until the test has seen the slow socket dropped.
  let emitting = true;
  const blob = 'x'.repeat(16 * 1024);
  beforeAll(async () => {
    s = await setup(
      { STREAM_MAX_BUFFERED_BYTES: String(64 * 1024) },
      {
        example_streaming: defineKind('example_streaming', async (_input, report) => {
          for (let i = 1; i <= 3_000 && emitting; i++) await report.update(`chunk ${i}`, { i, blob });
          return { message: 'done', data: {} };
        }),
      },
    );
  });
  afterAll(() => teardown(s));

  const drops = async (transport: string) =>
    (await metrics.slowStreamDrops.get()).values.find((v) => v.labels.transport === transport)?.value ?? 0;

  it('is dropped past its buffer bound (1013) and, resuming with its last event id, gets the rest exactly once', async () => {
    const o = await owner(s.deps);
    const before = await drops('ws');
    const { taskId } = await o.api.tasks.start({
      organizationId: o.org.id,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 0 },
    });
    const base = s.server.url.replace('http', 'ws');
    const slow = openSocket(`${base}/tasks/${taskId}/ws?token=${o.token}`);
    // A healthy follower of the same task, for comparison: it is never dropped.
    const healthy = openSocket(`${base}/tasks/${taskId}/ws?token=${o.token}`);
    await new Promise((resolve) => slow.ws.once('open', resolve));
    slow.ws.pause();

    await waitFor(async () => (await drops('ws')) > before, 'the slow socket to be dropped', 30_000);
    emitting = false;
    const task = await waitFor(async () => {
      const t = await o.api.tasks.get({ taskId });
      return t.status === 'succeeded' && t;
    }, 'the task to end');
    const total = task.lastEventId;

    slow.ws.resume();
    const first = await slow.closed;
    // The close frame if it read it within the grace period, else the connection was cut.
    expect([1013, 1006]).toContain(first.code);
    const k = first.seqs.at(-1) ?? 0;
    expect(first.seqs).toEqual(range(1, k));
    expect(k).toBeLessThan(total);

    const resumed = await openSocket(`${base}/tasks/${taskId}/ws?token=${o.token}&lastEventId=${k}`).closed;
    expect(resumed.code).toBe(1000);
    expect(resumed.seqs).toEqual(range(k + 1, total));

    const other = await healthy.closed;
    expect(other.code).toBe(1000);
    expect(other.seqs).toEqual(range(1, total));
  });
});
