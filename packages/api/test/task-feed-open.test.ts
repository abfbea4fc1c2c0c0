// How a task's feed opens (issue #12): it reads the task first and serves that at once; only a task
// still running is subscribed on the bus, and once the subscription takes effect the table is read
// again, so an event published between the read and the subscription (which the bus never
// delivers to it) still reaches every follower — without waiting for the safety check.
import { appendTaskEvent, type BusSubscription, type EventBus, taskChannel } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskFanout, type FollowEnd } from '../src/services/task-fanout.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { signUp } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

/**
 * The real bus; `subscribe` calls are counted per channel, and `beforeSubscribe` (when set) runs
 * before the real subscription is made: what it publishes is published before it takes effect.
 */
function instrumentedBus(inner: EventBus) {
  const calls = new Map<string, number>();
  let beforeSubscribe: ((channel: string) => Promise<void>) | undefined;
  const bus: EventBus = {
    kind: inner.kind,
    publish: (channel, event) => inner.publish(channel, event),
    close: () => inner.close(),
    subscribe<T>(channel: string, options?: { signal?: AbortSignal }): BusSubscription<T> {
      calls.set(channel, (calls.get(channel) ?? 0) + 1);
      const hook = beforeSubscribe?.(channel) ?? Promise.resolve();
      const subscription = hook.then(() => inner.subscribe<T>(channel, options));
      return {
        ready: subscription.then((s) => s.ready),
        close: () => void subscription.then((s) => s.close()),
        async *[Symbol.asyncIterator]() {
          yield* await subscription;
        },
      };
    },
  };
  return {
    bus,
    calls: (channel: string) => calls.get(channel) ?? 0,
    setBeforeSubscribe: (hook: typeof beforeSubscribe) => {
      beforeSubscribe = hook;
    },
  };
}

/** A queued task of a new organization (no worker runs here: it stays queued until we append). */
async function queuedTask() {
  const owner = await signUp(deps);
  const org = await owner.api.organizations.create({ name: 'Feed Co' });
  const { taskId } = await owner.api.tasks.start({
    organizationId: org.id,
    kind: 'example_streaming',
    input: { steps: 1, intervalMs: 0 },
  });
  return { taskId, scope: { taskId, organizationId: org.id, userId: owner.user.id, familyId: 'f' } };
}

/** Attaches a sink that records every seq delivered and how the stream ended. */
function collect(pending: Awaited<ReturnType<ReturnType<typeof createTaskFanout>['open']>>) {
  const seqs: number[] = [];
  let resolveEnd!: (reason: FollowEnd) => void;
  const ended = new Promise<FollowEnd>((resolve) => {
    resolveEnd = resolve;
  });
  pending.attach({ deliver: (entry) => void seqs.push(entry.seq), end: resolveEnd });
  return { seqs, ended };
}

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);

describe('opening a task feed', () => {
  it('a task that has ended is served from the table alone: no bus subscription is made', async () => {
    const { taskId, scope } = await queuedTask();
    const append = { db: deps.db, bus: deps.bus };
    await appendTaskEvent(append, taskId, { type: 'task_start', message: 'Starting' }, { status: 'running' });
    await appendTaskEvent(append, taskId, { type: 'progress', message: 'Step 1/1', progress: 1 });
    await appendTaskEvent(append, taskId, { type: 'task_end', message: 'Done' });
    const counted = instrumentedBus(deps.bus);
    const fanout = createTaskFanout({ db: deps.db, bus: counted.bus }, { safetyCheckMs: 60_000 });

    const followers = await Promise.all([0, 0, 1].map((last) => fanout.open(scope, last)));
    const streams = followers.map(collect);
    for (const stream of streams)
      expect(await within(stream.ended, 2_000, 'the end')).toEqual({ kind: 'finished' });
    expect(streams.map((s) => s.seqs)).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [2, 3],
    ]);
    expect(counted.calls(taskChannel(taskId))).toBe(0);
    expect(fanout.stats().taskSubscriptions).toBe(0);
  });

  it('an event published after the read, before the subscription took effect, is read back once it does', async () => {
    const { taskId, scope } = await queuedTask();
    const append = { db: deps.db, bus: deps.bus };
    const counted = instrumentedBus(deps.bus);
    // Between the feed's read (last_seq 0) and its subscription: task_start is stored and published
    // to nobody, as when the worker starts the task in that instant.
    counted.setBeforeSubscribe(async (channel) => {
      if (channel !== taskChannel(taskId)) return;
      await appendTaskEvent(
        append,
        taskId,
        { type: 'task_start', message: 'Starting' },
        { status: 'running' },
      );
    });
    // The safety check would find it too, but only after a minute: this must not depend on it.
    const fanout = createTaskFanout({ db: deps.db, bus: counted.bus }, { safetyCheckMs: 60_000 });

    const stream = collect(await fanout.open(scope, 0));
    await within(
      (async () => {
        while (stream.seqs.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      3_000,
      'task_start, read back after the subscription took effect',
    );
    expect(fanout.stats().taskSubscriptions).toBe(1);
    // Later events arrive on the bus as usual.
    await appendTaskEvent(append, taskId, { type: 'progress', message: 'Step 1/1', progress: 1 });
    await appendTaskEvent(append, taskId, { type: 'task_end', message: 'Done' });
    expect(await within(stream.ended, 3_000, 'the end')).toEqual({ kind: 'finished' });
    expect(stream.seqs).toEqual([1, 2, 3]);
    expect(counted.calls(taskChannel(taskId))).toBe(1);
    // The terminal event released the subscription.
    expect(fanout.stats().taskSubscriptions).toBe(0);
  });

  it('a follower of a running task gets what is stored at once, before the bus has answered', async () => {
    const { taskId, scope } = await queuedTask();
    const append = { db: deps.db, bus: deps.bus };
    await appendTaskEvent(append, taskId, { type: 'task_start', message: 'Starting' }, { status: 'running' });
    const counted = instrumentedBus(deps.bus);
    let letSubscribe!: () => void;
    const held = new Promise<void>((resolve) => {
      letSubscribe = resolve;
    });
    counted.setBeforeSubscribe((channel) => (channel === taskChannel(taskId) ? held : Promise.resolve()));
    // A feed that waited for its subscription (up to busWaitMs) would not open while it is held.
    const fanout = createTaskFanout(
      { db: deps.db, bus: counted.bus },
      { safetyCheckMs: 60_000, busWaitMs: 60_000 },
    );

    const stream = collect(await within(fanout.open(scope, 0), 5_000, 'open, with the bus held back'));
    expect(stream.seqs).toEqual([1]);
    letSubscribe();
    // Whether this lands before or after the subscription takes effect, it is delivered once.
    await appendTaskEvent(append, taskId, { type: 'task_end', message: 'Done' });
    expect(await within(stream.ended, 3_000, 'the end')).toEqual({ kind: 'finished' });
    expect(stream.seqs).toEqual([1, 2]);
  });
});
