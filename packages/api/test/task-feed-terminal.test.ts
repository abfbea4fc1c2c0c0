// A task's terminal event reaches every follower before any follower is ended (issue #12, fan-out
// p99): ending one (its close frame, its references given back) is work that the last socket's
// event would otherwise wait behind, one socket after another. Real database and Redis; the events
// are appended and published as the worker does.
import { appendTaskEvent } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTaskFanout } from '../src/services/task-fanout.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { signUp } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

describe('the terminal event', () => {
  it('is delivered to every follower, then every follower is ended', async () => {
    const owner = await signUp(deps);
    const org = await owner.api.organizations.create({ name: 'Terminal Co' });
    const { taskId } = await owner.api.tasks.start({
      organizationId: org.id,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 0 },
    });
    const scope = { taskId, organizationId: org.id, userId: owner.user.id, familyId: 'f' };
    const worker = { db: deps.db, bus: deps.bus };
    await appendTaskEvent(worker, taskId, { type: 'task_start', message: 'Starting' }, { status: 'running' });
    const fanout = createTaskFanout(worker, { safetyCheckMs: 60_000 });

    const calls: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const pending = await fanout.open(scope, 0);
      pending.attach({
        deliver: (entry) => void calls.push(`${name}:${entry.seq}`),
        end: (reason) => void calls.push(`${name}:end:${reason.kind}`),
      });
    }
    expect(calls).toEqual(['a:1', 'b:1', 'c:1']);

    const done = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (calls.filter((c) => c.includes(':end:')).length === 3) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    await appendTaskEvent(worker, taskId, { type: 'task_end', message: 'Done' }, { status: 'succeeded' });
    await done;
    expect(calls.slice(3)).toEqual([
      'a:2',
      'b:2',
      'c:2',
      'a:end:finished',
      'b:end:finished',
      'c:end:finished',
    ]);
  });
});
