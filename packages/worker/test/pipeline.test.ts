// The task pipeline's guarantees under load (issue #12): one statement per event keeps seq gapless
// and unique with many tasks on two workers and with concurrent appends to one task; nothing is
// ever appended after a terminal event; a failing bus never fails a task; WORKER_CONCURRENCY bounds
// the jobs one worker runs, also with a local queue that fetches ahead; example_streaming runs with intervalMs 0.
import { randomUUID } from 'node:crypto';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import {
  appendEvent,
  appendTaskEvent,
  ConfigError,
  type EventBus,
  isTerminalEvent,
  loadConfig,
  metrics,
  readTaskHead,
  TaskAlreadyFinished,
  type TaskEvent,
  taskChannel,
} from '@woopdi/core';
import { tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  defineKind,
  kindDefinitions,
  startWorker,
  type WorkerHandle,
  type WorkerOptions,
} from '../src/index.js';
import { waitFor } from './helpers.js';
import {
  expectWellFormed,
  orgWithAdmin,
  runTaskJobs,
  storedEvents,
  taskRow,
  waitForStatus,
} from './task-helpers.js';

let deps: TestDeps;
let workers: WorkerHandle[] = [];

beforeEach(async () => {
  deps = await createTestDeps();
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
  await deps.close();
});

const startTestWorker = async (options: Partial<WorkerOptions> = {}) => {
  const worker = await startWorker({ ...deps, pollInterval: 100, ...options });
  workers.push(worker);
  return worker;
};

/** An example_streaming stand-in that holds every job until release(), counting those running. */
function gatedKind() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const state = {
    running: 0,
    peak: 0,
    release: () => release(),
    kind: defineKind('example_streaming', async () => {
      state.running++;
      state.peak = Math.max(state.peak, state.running);
      await gate;
      state.running--;
      return { message: 'done', data: {} };
    }),
  };
  return state;
}

const streaming = (organizationId: string, steps: number, intervalMs = 0) => ({
  organizationId,
  kind: 'example_streaming' as const,
  input: { steps, intervalMs },
});

/** Collects what the bus delivers on each task's channel until its terminal event. */
async function followAll(bus: EventBus, taskIds: string[]) {
  const received = new Map<string, TaskEvent[]>();
  const done = await Promise.all(
    taskIds.map(async (taskId) => {
      const subscription = bus.subscribe<TaskEvent>(taskChannel(taskId));
      await subscription.ready;
      const events: TaskEvent[] = [];
      received.set(taskId, events);
      // Wrapped: an async function returning a promise would wait for it.
      const collected = (async () => {
        for await (const event of subscription) {
          events.push(event);
          if (isTerminalEvent(event.type)) break;
        }
      })();
      return { collected };
    }),
  );
  return { received, done: Promise.all(done.map((d) => d.collected)) };
}

describe('seq under load', () => {
  it('50 concurrent tasks of 100 events each on two workers: every seq 1..100 once, in order, on the bus too', {
    timeout: 90_000,
  }, async () => {
    const { api, org } = await orgWithAdmin(deps);
    // Queued before any worker runs, so the bus subscriptions are in place before the first event.
    const started = await Promise.all(
      Array.from({ length: 50 }, () => api.tasks.start(streaming(org.id, 98))),
    );
    const taskIds = started.map((s) => s.taskId);
    const bus = await followAll(deps.bus, taskIds);

    const ranBy = new Map<string, number>();
    const counting = (worker: number) =>
      defineKind('example_streaming', async (input, report, ctx) => {
        ranBy.set(report.taskId, worker);
        return kindDefinitions.example_streaming.run(input, report, ctx);
      });
    await Promise.all([
      startTestWorker({ concurrency: 10, kinds: { example_streaming: counting(1) } }),
      startTestWorker({ concurrency: 10, kinds: { example_streaming: counting(2) } }),
    ]);

    await waitFor(
      async () => {
        const rows = await deps.db.select({ status: tasks.status }).from(tasks);
        return rows.every((r) => r.status === 'succeeded');
      },
      'all 50 tasks to succeed',
      60_000,
    );
    await bus.done;
    for (const taskId of taskIds) {
      const events = await storedEvents(deps, taskId);
      expect(events).toHaveLength(100);
      expectWellFormed(events);
      expect(events.map((e) => e.type)).toEqual(['task_start', ...Array(98).fill('progress'), 'task_end']);
      expect((await taskRow(deps, taskId)).lastSeq).toBe(100);
      expect(bus.received.get(taskId)).toEqual(events);
    }
    // Both workers took part.
    expect(new Set(ranBy.values())).toEqual(new Set([1, 2]));
    const [{ n } = { n: -1 }] = await deps.sql<{ n: number }[]>`
      select count(*)::int as n from (select task_id, seq from task_events group by 1, 2 having count(*) > 1) d`;
    expect(n).toBe(0);
  });

  it('200 concurrent appends to one task: seq 1..200 without a gap or a repeat', async () => {
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 1));
    const appended = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        appendEvent(deps.db, taskId, { type: 'update', message: `update ${i}`, data: { i } }),
      ),
    );
    expect(appended.map((a) => a.event.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const events = await storedEvents(deps, taskId);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // Each stored event is the one its append returned.
    for (const a of appended) expect(events[a.event.seq - 1]).toEqual(a.event);
    expect((await taskRow(deps, taskId)).lastSeq).toBe(200);
  });
});

describe('nothing after a terminal event', () => {
  it('the append statement refuses an event, terminal or not, once the task has ended', async () => {
    await startTestWorker();
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 3));
    await waitForStatus(deps, taskId, ['succeeded']);
    const before = await storedEvents(deps, taskId);
    expectWellFormed(before);

    await expect(appendEvent(deps.db, taskId, { type: 'update', message: 'late' })).rejects.toBeInstanceOf(
      TaskAlreadyFinished,
    );
    await expect(
      appendTaskEvent(deps, taskId, { type: 'task_error', message: 'late failure' }, { status: 'failed' }),
    ).rejects.toBeInstanceOf(TaskAlreadyFinished);
    // Refused by the statement itself, not only by the worker's code: even inside a transaction.
    await expect(
      deps.db.transaction((tx) => appendEvent(tx, taskId, { type: 'progress', message: 'late' })),
    ).rejects.toBeInstanceOf(TaskAlreadyFinished);
    expect(await storedEvents(deps, taskId)).toEqual(before);
    expect(await taskRow(deps, taskId)).toMatchObject({ status: 'succeeded', lastSeq: before.length });
  });

  it('racing terminal and ordinary appends: exactly one terminal event, and it is the last', async () => {
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 1));
    const attempts = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0
        ? appendEvent(
            deps.db,
            taskId,
            { type: i % 2 ? 'task_end' : 'task_error', message: `end ${i}` },
            { finishedAt: new Date() },
          )
        : appendEvent(deps.db, taskId, { type: 'progress', message: `step ${i}`, current: i, total: 60 }),
    );
    const outcomes = await Promise.allSettled(attempts);
    const refused = outcomes.filter((o) => o.status === 'rejected');
    for (const o of refused) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(TaskAlreadyFinished);
    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    expect(events.length + refused.length).toBe(60);
    const row = await taskRow(deps, taskId);
    expect(row.lastSeq).toBe(events.length);
    // The status follows the terminal event that won.
    expect(row.status).toBe(events.at(-1)!.type === 'task_end' ? 'succeeded' : 'failed');
  });

  it('a non-terminal event cannot carry a final status', async () => {
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 1));
    await expect(
      appendEvent(deps.db, taskId, { type: 'update', message: 'sneaky' }, { status: 'succeeded' }),
    ).rejects.toThrow(/only task_end \/ task_error/);
    expect(await storedEvents(deps, taskId)).toEqual([]);
  });
});

describe('the bus is not in the way', () => {
  it('a bus whose publish rejects does not fail or retry the task: it succeeds, its events are stored, the failures counted', async () => {
    const failures = async () => (await metrics.busPublishFailures.get()).values[0]?.value ?? 0;
    const before = await failures();
    let publishes = 0;
    const brokenBus: EventBus = {
      ...deps.bus,
      publish: async () => {
        publishes++;
        throw new Error('Reached the max retries per request limit');
      },
    };
    await startTestWorker({ bus: brokenBus });
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 5));

    const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 1, error: null, progress: 1 });
    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    expect(events.map((e) => e.type)).toEqual(['task_start', ...Array(5).fill('progress'), 'task_end']);
    // Every event was offered to the bus once, and no "Attempt 1 failed" update appeared.
    expect(publishes).toBe(7);
    await waitFor(async () => (await failures()) >= before + 7, 'the failures to be counted');
    await waitFor(async () => (await runTaskJobs(deps)).length === 0, 'the job to leave the queue');
  });
});

describe('capacity and speed', () => {
  it('example_streaming runs with intervalMs 0', async () => {
    await startTestWorker();
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 50, 0));
    const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect(row.status).toBe('succeeded');
    const events = await storedEvents(deps, taskId);
    expect(events).toHaveLength(52);
    expectWellFormed(events);
    expect(await api.tasks.get({ taskId })).toMatchObject({ input: { steps: 50, intervalMs: 0 } });
  });

  it('readTaskHead: a young task comes with its events, exactly as readTaskEvents reads them; an older one without', async () => {
    await startTestWorker();
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 10, 0));
    await waitForStatus(deps, taskId, ['succeeded']);
    const stored = await storedEvents(deps, taskId);
    expect(stored).toHaveLength(12);
    expect(await readTaskHead(deps.db, taskId, 12)).toEqual({
      lastSeq: 12,
      status: 'succeeded',
      events: stored,
    });
    expect(await readTaskHead(deps.db, taskId, 11)).toEqual({
      lastSeq: 12,
      status: 'succeeded',
      events: undefined,
    });
    expect(await readTaskHead(deps.db, randomUUID(), 32)).toBeUndefined();
  });

  it('WORKER_CONCURRENCY=3: three jobs run at once, never a fourth', async () => {
    await deps.close();
    deps = await createTestDeps({ WORKER_CONCURRENCY: '3' });
    expect(deps.config.workerConcurrency).toBe(3);
    const gated = gatedKind();
    // No `concurrency` option: the worker takes it from the configuration.
    await startTestWorker({ kinds: { example_streaming: gated.kind } });
    const { api, org } = await orgWithAdmin(deps);
    const started = await Promise.all(Array.from({ length: 5 }, () => api.tasks.start(streaming(org.id, 1))));
    await waitFor(() => gated.running === 3, 'three jobs to be running');
    // Time for a fourth to start if the bound were wrong (NOTIFY wakes idle workers at once).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(gated.running).toBe(3);
    const queued = await deps.db
      .select({ status: tasks.status })
      .from(tasks)
      .where(eq(tasks.status, 'queued'));
    expect(queued).toHaveLength(2);
    gated.release();
    for (const { taskId } of started) await waitForStatus(deps, taskId, ['succeeded']);
    expect(gated.peak).toBe(3);
  });

  it('WORKER_LOCAL_QUEUE: a batch is fetched ahead and locked, concurrency still bounds the running jobs, and a stopping worker returns what it had not started', async () => {
    await deps.close();
    deps = await createTestDeps({ WORKER_CONCURRENCY: '2', WORKER_LOCAL_QUEUE: '4' });
    expect(deps.config.workerLocalQueue).toBe(4);
    const gated = gatedKind();
    // A backlog first, so the worker's first fetch finds all six.
    const { api, org } = await orgWithAdmin(deps);
    const started = await Promise.all(Array.from({ length: 6 }, () => api.tasks.start(streaming(org.id, 1))));
    const first = await startTestWorker({ kinds: { example_streaming: gated.kind } });
    await waitFor(() => gated.running === 2, 'two jobs to be running');
    // One fetch of at most 4 jobs (the signup's email job may have been one of them): more jobs
    // locked than running, those fetched ahead waiting in the local queue; the rest left in the table.
    const locked = async () => (await runTaskJobs(deps)).filter((j) => j.locked_at !== null).length;
    await waitFor(async () => (await locked()) >= 3, 'a job to be fetched ahead of a free slot');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gated.running).toBe(2);
    expect(await locked()).toBeGreaterThanOrEqual(3);
    expect(await locked()).toBeLessThanOrEqual(4);
    // Stopping: the local queue goes back at once, unlocked, its attempt not counted; then the two
    // running jobs finish. Nothing is lost: four tasks are left, none of them locked.
    const stopping = first.stop();
    await waitFor(async () => (await locked()) === 2, 'the jobs fetched ahead to be returned');
    gated.release();
    await stopping;
    const left = await runTaskJobs(deps);
    expect(left).toHaveLength(4);
    expect(left.every((j) => j.locked_at === null && j.attempts === 0)).toBe(true);
    // Another worker runs the rest (the gate is open now).
    await startTestWorker({ kinds: { example_streaming: gated.kind } });
    for (const { taskId } of started) await waitForStatus(deps, taskId, ['succeeded']);
    expect(gated.peak).toBe(2);
  });

  it('WORKER_LOCAL_QUEUE is off by default and validated with a message naming the variable', () => {
    expect(loadConfig({}).workerLocalQueue).toBe(0);
    expect(loadConfig({ WORKER_LOCAL_QUEUE: '64' }).workerLocalQueue).toBe(64);
    for (const bad of ['-1', '2.5', 'lots', '1001']) {
      expect(() => loadConfig({ WORKER_LOCAL_QUEUE: bad })).toThrow(
        /^WORKER_LOCAL_QUEUE is invalid: .*from 0 \(off\) to 1000/,
      );
    }
  });

  it('WORKER_CONCURRENCY is validated with a message naming the variable and the fix', () => {
    expect(loadConfig({}).workerConcurrency).toBe(16);
    for (const bad of ['0', '-2', '2.5', 'many', '1001']) {
      const error = (() => {
        try {
          loadConfig({ WORKER_CONCURRENCY: bad });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^WORKER_CONCURRENCY is invalid: .*from 1 to 1000/);
    }
  });
});
