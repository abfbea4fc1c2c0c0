// A task started in a process that serves task streams reserves its feed before its job exists
// (issue #12, start → first event): the subscription is taken beside the start's rate-limit call,
// so the follower that opens once the start answers joins a feed that already holds every event,
// with no read of the table. The feed's pool here has one connection, and the tests hold it where a
// read would hang: a stream that opens anyway needed none. Redis is real; no worker runs (events
// are appended and published as the worker does).
import { appendTaskEvent, type BusSubscription, type EventBus } from '@woopdi/core';
import { createDb } from '@woopdi/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTaskFanout, type TaskFanout } from '../src/services/task-fanout.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, signUp } from './fixtures.js';
import { collect, within } from './task-feed-helpers.js';

let deps: TestDeps;
let feedDb: ReturnType<typeof createDb>;
let fanout: TaskFanout;
beforeAll(async () => {
  deps = await createTestDeps();
  feedDb = createDb(deps.databaseUrl, { max: 1 });
  // This process now serves streams of deps.bus: starts through it reserve feeds.
  fanout = getTaskFanout({ db: feedDb.db, bus: deps.bus }, { safetyCheckMs: 60_000, reserveLingerMs: 1_500 });
});
afterAll(async () => {
  await feedDb.close();
  await deps.close();
});

async function owner(d: TestDeps) {
  const user = await signUp(d);
  const org = await user.api.organizations.create({ name: 'Reserve Co' });
  const start = async () => {
    const { taskId } = await user.api.tasks.start({
      organizationId: org.id,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 0 },
    });
    return { taskId, scope: { taskId, organizationId: org.id, userId: user.user.id, familyId: 'f' } };
  };
  return { user, org, start };
}

async function waitFor(probe: () => boolean, what: string, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Events as the worker writes them: durable first, then published. */
const worker = (d: TestDeps) => ({ db: d.db, bus: d.bus });
const begin = (taskId: string) =>
  appendTaskEvent(worker(deps), taskId, { type: 'task_start', message: 'Starting' }, { status: 'running' });
const finish = (taskId: string) =>
  appendTaskEvent(worker(deps), taskId, { type: 'task_end', message: 'Done' }, { status: 'succeeded' });

describe('feeds reserved by a start', () => {
  it('the follower who opens after the start joins the reserved feed: every event once, in order, with no read of the table', async () => {
    const o = await owner(deps);
    const { taskId, scope } = await o.start();
    expect(fanout.stats()).toMatchObject({ reserved: 1, taskSubscriptions: 1 });

    // From now on a read by the feed would wait for a connection that does not come.
    const held = await feedDb.sql.reserve();
    try {
      await begin(taskId);
      await appendTaskEvent(worker(deps), taskId, { type: 'update', message: 'one' });
      // The publishes reach the feed's subscription (their order is kept).
      await waitFor(() => fanout.stats().taskSubscriptions === 1, 'the feed');
      await new Promise((resolve) => setTimeout(resolve, 100));

      const stream = collect(await within(fanout.open(scope, 0), 2_000, 'open without a read'));
      expect(stream.seqs).toEqual([1, 2]);
      expect(fanout.stats()).toMatchObject({ reserved: 0, taskSubscriptions: 1, followers: 1 });

      await finish(taskId);
      expect(await within(stream.ended, 5_000, 'the end')).toEqual({ kind: 'finished' });
      expect(stream.seqs).toEqual([1, 2, 3]);
      expect(fanout.stats()).toMatchObject({ taskSubscriptions: 0, followers: 0 });
    } finally {
      held.release();
    }
  });

  it('a reservation no follower takes is given back after its linger; a refused start gives it back at once', async () => {
    const o = await owner(deps);
    const { taskId, scope } = await o.start();
    expect(fanout.stats()).toMatchObject({ reserved: 1, taskSubscriptions: 1 });
    await waitFor(
      () => fanout.stats().reserved === 0 && fanout.stats().taskSubscriptions === 0,
      'the linger',
    );

    // Refused after its subscription went out (bad input, 400): nothing stays reserved.
    const refused = o.user.api.tasks.start({
      organizationId: o.org.id,
      kind: 'example_streaming',
      input: { steps: -1, intervalMs: 0 },
    });
    expect(await codeOf(refused)).toBe('BAD_REQUEST');
    expect(fanout.stats()).toMatchObject({ reserved: 0, taskSubscriptions: 0 });

    // A follower who comes later opens the feed the usual way (a read of the table).
    await begin(taskId);
    const stream = collect(await within(fanout.open(scope, 0), 5_000, 'open'));
    await finish(taskId);
    expect(await within(stream.ended, 5_000, 'the end')).toEqual({ kind: 'finished' });
    expect(stream.seqs).toEqual([1, 2]);
  });

  it('a reservation whose subscription has not taken effect by the insert is given back: its follower still gets every event', async () => {
    // The real bus, answering SUBSCRIBE late: events published before it takes effect would be missed.
    const slowBus: EventBus = {
      ...deps.bus,
      subscribe<T>(channel: string, options?: { signal?: AbortSignal }): BusSubscription<T> {
        const inner = deps.bus.subscribe<T>(channel, options);
        return {
          ready: inner.ready.then(() => new Promise<void>((resolve) => setTimeout(resolve, 300))),
          close: () => inner.close(),
          [Symbol.asyncIterator]: () => inner[Symbol.asyncIterator](),
        };
      },
    };
    const slow: TestDeps = { ...deps, bus: slowBus };
    const slowFanout = getTaskFanout({ db: deps.db, bus: slowBus }, { reserveWaitMs: 20, busWaitMs: 2_000 });
    const o = await owner(slow);
    const { taskId, scope } = await o.start();
    expect(slowFanout.stats()).toMatchObject({ reserved: 0, taskSubscriptions: 0 });

    await begin(taskId);
    const stream = collect(await within(slowFanout.open(scope, 0), 5_000, 'open'));
    await appendTaskEvent(worker(deps), taskId, { type: 'update', message: 'one' });
    await finish(taskId);
    expect(await within(stream.ended, 5_000, 'the end')).toEqual({ kind: 'finished' });
    expect(stream.seqs).toEqual([1, 2, 3]);
  });
});
