// woopdi.tasks.follow / woopdi.tasks.events against the real server, Postgres, bus and an
// in-process worker: complete, ordered, exactly-once delivery, late subscribers, dropped connections,
// cancellation. Every test runs on the in-process bus and, when the test run has Redis, the Redis bus.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TaskEvent, WoopdiClient } from '../src/index.js';
import {
  closeClients,
  harness,
  PASSWORD,
  sleep,
  startServer as startServerWith,
  type TestServer,
  uniqueEmail,
  within,
} from './helpers.js';

const buses = inject('testRedisUrl') ? (['memory', 'redis'] as const) : (['memory'] as const);

async function startServer(bus: 'memory' | 'redis'): Promise<TestServer> {
  const server = await startServerWith({}, bus === 'memory' ? { bus: 'memory' } : {});
  expect(server.deps.bus.kind).toBe(bus);
  return server;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (events: TaskEvent[]) => events.map((e) => e.seq);

interface Followed {
  events: TaskEvent[];
  /** Resolves with the terminal event (null: nothing left to send); rejects with onError's error. */
  done: Promise<TaskEvent | null>;
  /** Resolves once `n` events have arrived. */
  received(n: number): Promise<void>;
  unsubscribe(): void;
  lastEventId(): number;
}

function follow(client: WoopdiClient, taskId: string, lastEventId?: number): Followed {
  const events: TaskEvent[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let handle!: ReturnType<WoopdiClient['tasks']['follow']>;
  const done = new Promise<TaskEvent | null>((resolve, reject) => {
    handle = client.tasks.follow(taskId, {
      lastEventId,
      onEvent: (event) => {
        events.push(event);
        for (const w of waiters.filter((x) => events.length >= x.n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      },
      onComplete: resolve,
      onError: reject,
    });
  });
  done.catch(() => undefined);
  return {
    events,
    // A getter: a follow that is never awaited (closed on purpose) must not time out unobserved.
    get done() {
      return within(done, 'the stream to end', 20_000);
    },
    received: (n) =>
      within(
        events.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
        `${n} events`,
      ),
    unsubscribe: () => handle.unsubscribe(),
    lastEventId: () => handle.lastEventId(),
  };
}

/**
 * The bare tRPC subscription, without follow's client-side de-duplication: what the link itself
 * delivers across a reconnect.
 */
function rawSubscription(client: WoopdiClient, taskId: string) {
  const seen: number[] = [];
  let sub!: { unsubscribe(): void };
  const ended = new Promise<void>((resolve, reject) => {
    sub = client.api.tasks.events.subscribe(
      { taskId },
      { onData: ({ data }) => void seen.push(data.seq), onComplete: resolve, onError: reject },
    );
  });
  return {
    seen,
    ended: within(ended, 'the raw subscription to end', 20_000),
    unsubscribe: () => sub.unsubscribe(),
  };
}

describe.each(buses)('woopdi.tasks on the %s bus', (bus) => {
  let server: TestServer;
  let worker: WorkerHandle;
  beforeAll(async () => {
    server = await startServer(bus);
    worker = await startWorker({ ...server.deps, pollInterval: 50 });
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await worker?.stop();
    await server?.close();
  });

  /** A signed-up client (subscriptions over `transport`) with a team organization. */
  async function member(transport: 'ws' | 'sse' = 'ws') {
    const { client } = harness(server, { subscriptions: transport });
    await client.signup({ email: uniqueEmail('tasks'), password: PASSWORD });
    const org = await client.api.organizations.create.mutate({ name: 'Task followers' });
    const start = async (steps: number, intervalMs = 20) =>
      (
        await client.api.tasks.start.mutate({
          organizationId: org.id,
          kind: 'example_streaming',
          input: { steps, intervalMs },
        })
      ).taskId;
    return { client, org, start };
  }

  async function untilFinished(client: WoopdiClient, taskId: string) {
    for (let i = 0; i < 400; i++) {
      const task = await client.api.tasks.get.query({ taskId });
      if (task.status !== 'queued' && task.status !== 'running') return task;
      await sleep(25);
    }
    throw new Error('the task did not finish');
  }

  it.each(['ws', 'sse'] as const)(
    'follow over %s: task_start, 20 progress, task_end in order, seq 1..22, the result on task_end',
    async (transport) => {
      const { client, start } = await member(transport);
      const taskId = await start(20);
      const followed = follow(client, taskId);
      const terminal = await followed.done;

      expect(seqs(followed.events)).toEqual(range(1, 22));
      expect(followed.events.map((e) => e.type)).toEqual([
        'task_start',
        ...Array(20).fill('progress'),
        'task_end',
      ]);
      const progress = followed.events.filter((e) => e.type === 'progress');
      expect(progress.map((e) => e.current)).toEqual(range(1, 20));
      expect(progress.at(-1)).toMatchObject({ progress: 1, current: 20, total: 20 });
      expect(terminal).toEqual(followed.events.at(-1));
      expect(terminal).toMatchObject({ taskId, seq: 22, type: 'task_end', data: { steps: 20 } });
      expect(followed.lastEventId()).toBe(22);

      const task = await client.api.tasks.get.query({ taskId });
      expect(task).toMatchObject({
        status: 'succeeded',
        progress: 1,
        lastEventId: 22,
        result: { steps: 20 },
      });
    },
  );

  it('backfills every event of a finished task, then completes; from its last id it completes at once', async () => {
    const { client, start } = await member();
    const taskId = await start(5, 10);
    await untilFinished(client, taskId);

    const late = follow(client, taskId);
    expect(await late.done).toMatchObject({ type: 'task_end', seq: 7 });
    expect(seqs(late.events)).toEqual(range(1, 7));

    const partial = follow(client, taskId, 4);
    await partial.done;
    expect(seqs(partial.events)).toEqual([5, 6, 7]);

    const nothingLeft = follow(client, taskId, 7);
    expect(await nothingLeft.done).toBeNull();
    expect(nothingLeft.events).toEqual([]);

    // The async-iterator form.
    const iterated: number[] = [];
    for await (const event of client.tasks.events(taskId, { lastEventId: 2 })) iterated.push(event.seq);
    expect(iterated).toEqual(range(3, 7));
  });

  it('survives the server dropping the websocket mid-stream: resumes with lastEventId, no gap, no duplicate', async () => {
    const { client, start } = await member('ws');
    const sockets: Duplex[] = [];
    const capture = (req: IncomingMessage, socket: Duplex) => {
      if (req.url?.startsWith('/trpc')) sockets.push(socket);
    };
    server.api.server.on('upgrade', capture);
    try {
      const taskId = await start(40, 25);
      const followed = follow(client, taskId);
      const raw = rawSubscription(client, taskId);
      await followed.received(8);
      expect(sockets).toHaveLength(1);
      sockets[0]!.destroy(); // as a dropped network would: no close frame
      await followed.received(20);
      expect(sockets.length).toBeGreaterThanOrEqual(2); // the SDK reconnected
      sockets.at(-1)!.destroy();
      await followed.done;
      expect(sockets.length).toBeGreaterThanOrEqual(3);
      expect(seqs(followed.events)).toEqual(range(1, 42));
      // tRPC's wsLink resubscribed with the last event id by itself: no resend, no gap.
      await raw.ended;
      expect(raw.seen).toEqual(range(1, 42));
    } finally {
      server.api.server.off('upgrade', capture);
    }
  });

  it('survives the server dropping the SSE connection mid-stream', async () => {
    const { client, start } = await member('sse');
    const sockets: Duplex[] = [];
    const capture = (req: IncomingMessage) => {
      if (req.url?.startsWith('/trpc/tasks.events')) sockets.push(req.socket);
    };
    server.api.server.on('request', capture);
    try {
      const taskId = await start(40, 25);
      const followed = follow(client, taskId);
      const raw = rawSubscription(client, taskId);
      await followed.received(8);
      for (const socket of sockets) socket.destroy();
      await followed.done;
      expect(sockets.length).toBeGreaterThanOrEqual(4);
      expect(seqs(followed.events)).toEqual(range(1, 42));
      // httpSubscriptionLink / EventSource resumed with the last event id by itself.
      await raw.ended;
      expect(raw.seen).toEqual(range(1, 42));
    } finally {
      server.api.server.off('request', capture);
    }
  });

  it('a client that goes away halfway resumes later with lastEventId: exactly 1..N across both', async () => {
    const { client, start } = await member('ws');
    const taskId = await start(30, 25);
    const first = follow(client, taskId);
    await first.received(10);
    await client.close(); // closes the websocket: the follow ends quietly
    const k = first.lastEventId();
    expect(seqs(first.events)).toEqual(range(1, k));

    const { client: again } = harness(server, { tokens: client.getTokens() });
    const second = follow(again, taskId, k);
    await second.done;
    expect([...seqs(first.events), ...seqs(second.events)]).toEqual(range(1, 32));
  });

  it('cancel mid-run: the stream ends with task_error (data.cancelled) and the task is cancelled', async () => {
    const { client, start } = await member();
    const taskId = await start(300, 20);
    const followed = follow(client, taskId);
    await followed.received(4);
    await client.api.tasks.cancel.mutate({ taskId });
    const terminal = await followed.done;
    expect(terminal).toMatchObject({ type: 'task_error', data: { cancelled: true } });
    expect(followed.events.filter((e) => e.type === 'task_end')).toEqual([]);
    expect(seqs(followed.events)).toEqual(range(1, followed.events.length));
    expect(await client.api.tasks.get.query({ taskId })).toMatchObject({ status: 'cancelled' });
  });

  it('reports a task it cannot see through onError (NOT_FOUND), and the iterator throws it', async () => {
    const owner = await member();
    const taskId = await owner.start(1, 10);
    const { client: stranger } = harness(server);
    await stranger.signup({ email: uniqueEmail('stranger'), password: PASSWORD });
    await expect(follow(stranger, taskId).done).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
    const iterate = async () => {
      for await (const _ of stranger.tasks.events(taskId)) {
        // nothing arrives
      }
    };
    await expect(iterate()).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });
  });
});
