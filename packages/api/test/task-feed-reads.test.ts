// A task feed's reads of the table are bounded (issue #12, found by the faults suite: after a
// PostgreSQL restart a first query can be left unanswered). A read that never answers must not hold
// the feed and its followers forever: they are told to reconnect, a new stream is refused as
// unavailable (503) instead of hanging, and once the database answers again a new feed serves all.
// The stuck read is real: the feed's pool has one connection, and the test holds it.
import { appendEvent, appendTaskEvent, dependencyUnavailable } from '@woopdi/core';
import { createDb } from '@woopdi/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskFanout } from '../src/services/task-fanout.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { signUp } from './fixtures.js';
import { collect, within } from './task-feed-helpers.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

/** A queued task of a new organization (no worker runs here: its events are appended by hand). */
async function queuedTask() {
  const owner = await signUp(deps);
  const org = await owner.api.organizations.create({ name: 'Reads Co' });
  const { taskId } = await owner.api.tasks.start({
    organizationId: org.id,
    kind: 'example_streaming',
    input: { steps: 1, intervalMs: 0 },
  });
  return { taskId, scope: { taskId, organizationId: org.id, userId: owner.user.id, familyId: 'f' } };
}

describe('task feed reads', () => {
  it('a read that never answers ends the followers waiting on it (reconnect), and a new stream is refused, not held', async () => {
    const { taskId, scope } = await queuedTask();
    const append = { db: deps.db, bus: deps.bus };
    await appendTaskEvent(append, taskId, { type: 'task_start', message: 'Starting' }, { status: 'running' });
    const feedDb = createDb(deps.databaseUrl, { max: 1 });
    try {
      const fanout = createTaskFanout(
        { db: feedDb.db, bus: deps.bus },
        { safetyCheckMs: 60_000, readTimeoutMs: 500 },
      );
      const stream = collect(await fanout.open(scope, 0));
      expect(stream.seqs).toEqual([1]);

      // From now on every read of the feed waits for a connection that does not come.
      const held = await feedDb.sql.reserve();
      // A gap: seq 2 is stored without being published, seq 3 is published: the feed must read 2.
      await appendEvent(deps.db, taskId, { type: 'update', message: 'stored, never published' });
      await appendTaskEvent(append, taskId, { type: 'update', message: 'published' });
      const end = await within(stream.ended, 5_000, 'the follower to be told to reconnect');
      expect(end.kind).toBe('interrupted');
      expect(stream.seqs).toEqual([1]);

      // Another task's stream opened meanwhile is refused as unavailable (the transports answer 503).
      const other = await queuedTask();
      const refused = await within(
        fanout.open(other.scope, 0).then(
          () => undefined,
          (error: unknown) => error,
        ),
        5_000,
        'open to give up',
      );
      expect(dependencyUnavailable(refused)?.code).toBe('SERVICE_UNAVAILABLE');

      // The database answers again: a new follower resumes from its last event and gets the rest once.
      held.release();
      const again = collect(await within(fanout.open(scope, 1), 5_000, 'open after recovery'));
      await appendTaskEvent(append, taskId, { type: 'task_end', message: 'Done' });
      expect(await within(again.ended, 5_000, 'the end')).toEqual({ kind: 'finished' });
      expect(again.seqs).toEqual([2, 3, 4]);
    } finally {
      await feedDb.close();
    }
  });
});
