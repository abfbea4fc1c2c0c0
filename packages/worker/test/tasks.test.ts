// Long-running tasks end to end (DESIGN §6): the API starts them, a real graphile-worker runs them,
// events land in task_events with gapless seq and on the bus; retries, failure, cancellation and
// the org export. The kill -9 case lives in tasks-crash.test.ts (it runs in parallel).
import { createHash } from 'node:crypto';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { type TaskEvent, taskKinds } from '@woopdi/core';
import { assets, invitations, memberships, tasks } from '@woopdi/db';
import { count, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineKind, startWorker, type WorkerHandle, type WorkerOptions } from '../src/index.js';
import { uniqueEmail, waitFor } from './helpers.js';
import {
  addMember,
  expectWellFormed,
  failedAttempt,
  followBus,
  orgWithAdmin,
  retryNow,
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

const streaming = (organizationId: string, steps: number, intervalMs = 10) => ({
  organizationId,
  kind: 'example_streaming' as const,
  input: { steps, intervalMs },
});

const noJobsLeft = () =>
  waitFor(async () => (await runTaskJobs(deps)).length === 0, 'the run_task job to leave the queue');

describe('example_streaming', () => {
  it('20 steps: task_start, 20 progress, task_end with seq 1..22, on the bus in order, row succeeded', async () => {
    const { api, org } = await orgWithAdmin(deps);
    // Queued with no worker yet, so the bus subscription is in place before the first event.
    const { taskId, status } = await api.tasks.start(streaming(org.id, 20));
    expect(status).toBe('queued');
    const bus = await followBus(deps, taskId);
    await startTestWorker();

    const row = await waitForStatus(deps, taskId, ['succeeded', 'failed', 'cancelled']);
    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    expect(events).toHaveLength(22);
    expect(events.map((e) => e.type)).toEqual(['task_start', ...Array(20).fill('progress'), 'task_end']);
    for (const [i, e] of events.slice(1, 21).entries()) {
      expect(e).toMatchObject({ current: i + 1, total: 20, progress: (i + 1) / 20 });
    }
    expect(events[21]!.data).toEqual({ steps: 20 });

    expect(row).toMatchObject({
      status: 'succeeded',
      progress: 1,
      result: { steps: 20 },
      error: null,
      attempts: 1,
    });
    expect(row.lastSeq).toBe(22);
    expect(row.startedAt).toBeInstanceOf(Date);
    expect(row.finishedAt).toBeInstanceOf(Date);
    expect(row.finishedAt!.getTime()).toBeGreaterThanOrEqual(row.startedAt!.getTime());

    const delivered = await bus.done;
    expect(delivered).toEqual(events);

    const viaApi = await api.tasks.get({ taskId });
    expect(viaApi).toMatchObject({
      status: 'succeeded',
      progress: 1,
      result: { steps: 20 },
      lastEventId: 22,
    });
    await noJobsLeft();
    // A finished task cannot be cancelled.
    await expect(api.tasks.cancel({ taskId })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('retries and failure', () => {
  it('fails twice, succeeds on the third attempt: one task_end, update events for the failures, attempts 3', async () => {
    const runs: number[] = [];
    await startTestWorker({
      kinds: {
        example_streaming: defineKind('example_streaming', async ({ steps }, report) => {
          runs.push(report.attempt);
          if (report.attempt < 3) throw new Error(`flaky failure ${report.attempt}`);
          await report.progress({ current: steps, total: steps });
          return { message: 'done at last', data: { attempt: report.attempt } };
        }),
      },
    });
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 1));

    for (const attempt of [1, 2]) {
      const job = await failedAttempt(deps, attempt);
      expect(job.last_error).toContain(`flaky failure ${attempt}`);
      expect(job.retry_scheduled).toBe(true);
      expect(await taskRow(deps, taskId)).toMatchObject({ status: 'running', attempts: attempt });
      await retryNow(deps, job.id);
    }

    const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect(row).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      progress: 1,
      result: { attempt: 3 },
      error: null,
    });
    expect(runs).toEqual([1, 2, 3]);
    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['task_start', undefined],
      ['update', { attempt: 1, error: 'flaky failure 1' }],
      ['update', { attempt: 2 }],
      ['update', { attempt: 2, error: 'flaky failure 2' }],
      ['update', { attempt: 3 }],
      ['progress', undefined],
      ['task_end', { attempt: 3 }],
    ]);
    expect(events[1]!.message).toBe('Attempt 1 of 3 failed: flaky failure 1. Retrying.');
    expect(events[2]!.message).toBe('Attempt 2 of 3: resuming');
    await noJobsLeft();
  });

  it('always throws: failed after maxAttempts with task_error and the error, no task_end, job gone', async () => {
    expect(taskKinds.example_streaming.maxAttempts).toBe(3);
    await startTestWorker({
      kinds: {
        example_streaming: defineKind('example_streaming', async (_input, report) => {
          throw new Error(`boom on attempt ${report.attempt}`);
        }),
      },
    });
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 1));
    const [job] = await runTaskJobs(deps);
    expect(job!.max_attempts).toBe(3);
    for (const attempt of [1, 2]) await retryNow(deps, (await failedAttempt(deps, attempt)).id);

    const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect(row).toMatchObject({ status: 'failed', attempts: 3, error: 'boom on attempt 3', result: null });
    expect(row.finishedAt).toBeInstanceOf(Date);
    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    expect(events.some((e) => e.type === 'task_end')).toBe(false);
    expect(events.at(-1)).toMatchObject({
      type: 'task_error',
      message: 'Task failed with error: boom on attempt 3',
      data: { attempts: 3 },
    });
    expect(events.filter((e) => e.type === 'update').map((e) => e.data)).toEqual([
      { attempt: 1, error: 'boom on attempt 1' },
      { attempt: 2 },
      { attempt: 2, error: 'boom on attempt 2' },
      { attempt: 3 },
    ]);
    expect(await api.tasks.get({ taskId })).toMatchObject({ status: 'failed', error: 'boom on attempt 3' });
    // The last attempt ends the task itself, so graphile-worker records no failure: the job is gone,
    // neither locked nor waiting for a retry.
    await noJobsLeft();
  });
});

describe('cancel', () => {
  it('a running task stops within one step and ends with task_error { cancelled: true }', async () => {
    await startTestWorker();
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 50, 50));
    await waitFor(
      async () => (await storedEvents(deps, taskId)).filter((e) => e.type === 'progress').length >= 3,
      'three progress events',
    );

    const requestedAt = Date.now();
    const flagged = await api.tasks.cancel({ taskId });
    expect(flagged.status).toBe('running');
    const row = await waitForStatus(deps, taskId, ['cancelled', 'succeeded', 'failed'], 5_000);
    expect(Date.now() - requestedAt).toBeLessThan(1_000);
    expect(row.status).toBe('cancelled');
    expect(row.finishedAt).toBeInstanceOf(Date);
    expect(row.cancelRequestedAt).toBeInstanceOf(Date);

    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    // After the cancellation committed: at most the one step that noticed it, then the terminal event.
    const after = events.filter((e) => e.seq > flagged.lastEventId);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after.length).toBeLessThanOrEqual(2);
    if (after.length === 2) expect(after[0]!.type).toBe('progress');
    expect(after.at(-1)).toMatchObject({ type: 'task_error', data: { cancelled: true } });
    expect(events.filter((e) => e.type === 'progress').length).toBeLessThan(50);

    // Nothing more arrives later.
    await new Promise((r) => setTimeout(r, 200));
    expect(await storedEvents(deps, taskId)).toHaveLength(events.length);
    await noJobsLeft();
    await expect(api.tasks.cancel({ taskId })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('a queued task ends at once; only its creator or a MODERATOR+ may cancel it', async () => {
    const { org } = await orgWithAdmin(deps);
    const creator = await addMember(deps, org.id, 'MEMBER');
    const otherMember = await addMember(deps, org.id, 'MEMBER');
    const moderator = await addMember(deps, org.id, 'MODERATOR');
    const first = await creator.api.tasks.start(streaming(org.id, 5));
    const second = await creator.api.tasks.start(streaming(org.id, 5));

    await expect(otherMember.api.tasks.cancel({ taskId: first.taskId })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect((await taskRow(deps, first.taskId)).status).toBe('queued');

    // No worker runs: the cancellation itself ends the task.
    const cancelled = await creator.api.tasks.cancel({ taskId: first.taskId });
    expect(cancelled).toMatchObject({ status: 'cancelled', lastEventId: 1 });
    expect(cancelled.finishedAt).not.toBeNull();
    const events = await storedEvents(deps, first.taskId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ seq: 1, type: 'task_error', data: { cancelled: true } });
    await expect(creator.api.tasks.cancel({ taskId: first.taskId })).rejects.toMatchObject({
      code: 'CONFLICT',
    });

    expect(await moderator.api.tasks.cancel({ taskId: second.taskId })).toMatchObject({
      status: 'cancelled',
    });

    // A worker then drains both jobs without running them or adding events.
    await startTestWorker();
    await noJobsLeft();
    expect(await storedEvents(deps, first.taskId)).toHaveLength(1);
    expect(await storedEvents(deps, second.taskId)).toHaveLength(1);
    expect((await taskRow(deps, first.taskId)).status).toBe('cancelled');
  });

  it('a cancel racing the start of the task: one terminal event, nothing after it, status cancelled', async () => {
    const { api, org } = await orgWithAdmin(deps);
    const { taskId } = await api.tasks.start(streaming(org.id, 3));
    const waiting = async () =>
      (
        await deps.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`
      )[0]!.n;
    let cancel: Promise<{ status: string }> | undefined;
    // SHARE on tasks lets reads and SELECT … FOR UPDATE through but blocks every UPDATE: the worker
    // stalls while starting the queued task, then the cancel stalls too, both having read `queued`
    // or locked the row. Released together, whichever holds the row commits first. Before the fix the
    // worker only read the row, so the cancel ended the task and the worker then wrote task_start
    // (and ran it) after the terminal event.
    await deps.sql.begin(async (tx) => {
      await tx`lock table tasks in share mode`;
      await startTestWorker();
      await waitFor(async () => (await waiting()) >= 1, 'the worker to wait for the tasks lock');
      cancel = api.tasks.cancel({ taskId });
      await waitFor(async () => (await waiting()) >= 2, 'the cancel to wait for a lock');
    });
    // Either the cancel came first (the task ends at once) or it found the task running (flagged).
    expect(['cancelled', 'running']).toContain((await cancel!).status);
    const row = await waitForStatus(deps, taskId, ['cancelled', 'succeeded', 'failed'], 5_000);
    expect(row.status).toBe('cancelled');
    await noJobsLeft();
    await new Promise((r) => setTimeout(r, 150));

    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    expect(events.at(-1)).toMatchObject({ type: 'task_error', data: { cancelled: true } });
    expect((await taskRow(deps, taskId)).lastSeq).toBe(events.length);
  });
});

describe('org_export', () => {
  it('exports members, invitations and tasks by stage with progress into an asset; bytes, sha256 and counts check out', async () => {
    await startTestWorker();
    const { api, org } = await orgWithAdmin(deps, 'Export Co');
    // Two members and one pending invitation: the free plan's three seats.
    await addMember(deps, org.id, 'MODERATOR');
    await api.invitations.create({ organizationId: org.id, email: uniqueEmail() });
    const warmup = await api.tasks.start(streaming(org.id, 1));
    await waitForStatus(deps, warmup.taskId, ['succeeded']);

    const { taskId } = await api.tasks.start({ organizationId: org.id, kind: 'org_export', input: {} });
    const bus = await followBus(deps, taskId);
    const row = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect(row.status).toBe('succeeded');
    const events = await storedEvents(deps, taskId);
    expectWellFormed(events);
    const sections = ['members', 'invitations', 'tasks'];
    expect(events.map((e) => [e.type, e.data?.stage ?? e.current ?? null])).toEqual([
      ['task_start', null],
      ...sections.flatMap((s, i) => [
        ['stage_start', s],
        ['stage_end', s],
        ['progress', i + 1],
      ]),
      ['task_end', null],
    ]);
    for (const e of events.filter((e) => e.type === 'progress'))
      expect(e.progress).toBeCloseTo(e.current! / 3);

    const db = {
      members: (
        await deps.db.select({ n: count() }).from(memberships).where(eq(memberships.organizationId, org.id))
      )[0]!.n,
      invitations: (
        await deps.db.select({ n: count() }).from(invitations).where(eq(invitations.organizationId, org.id))
      )[0]!.n,
      tasks: (await deps.db.select({ n: count() }).from(tasks).where(eq(tasks.organizationId, org.id)))[0]!.n,
    };
    expect(db).toEqual({ members: 2, invitations: 1, tasks: 2 });
    const result = row.result as {
      assetId: string;
      bytes: number;
      sha256: string;
      counts: Record<string, number>;
    };
    expect(result.counts).toEqual(db);
    expect(events.filter((e) => e.type === 'stage_end').map((e) => e.data?.count)).toEqual([2, 1, 2]);
    const end = (await bus.done).at(-1) as TaskEvent;
    expect(end).toMatchObject({ type: 'task_end', data: result });

    // The export is stored as an asset of the organization: recompute its size and SHA-256 from the
    // bytes in storage, and check its sections against the database.
    const [asset] = await deps.db.select().from(assets).where(eq(assets.id, result.assetId));
    expect(asset).toMatchObject({
      organizationId: org.id,
      source: 'export',
      status: 'ready',
      contentType: 'application/json',
      // Members' emails and roles: readable at the kind's role only (the api hides it from MEMBERs).
      minReadRole: 'MODERATOR',
    });
    expect(asset!.meta).toMatchObject({ taskId, counts: db });
    const bytes = Buffer.concat(await (await deps.storage.read(asset!.storageKey)).toArray());
    expect(bytes.length).toBe(result.bytes);
    expect(asset!.size).toBe(result.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.sha256);
    expect(asset!.checksum).toBe(result.sha256);
    const document = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    expect(document.organizationId).toBe(org.id);
    for (const section of sections) expect(document[section]).toHaveLength(db[section as keyof typeof db]);
  });
});

describe('tasks.start', () => {
  it('validates the input per kind and creates nothing for a rejected start', async () => {
    const { api, org } = await orgWithAdmin(deps);
    for (const steps of [0, 601]) {
      const error = await api.tasks.start(streaming(org.id, steps)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BAD_REQUEST' });
      expect((error as Error).message).toContain('input.steps');
    }
    await expect(api.tasks.start(streaming(org.id, 5, 5001))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('input.intervalMs'),
    });
    await expect(
      api.tasks.start({ organizationId: org.id, kind: 'no_such_kind' as 'org_export', input: {} }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await deps.db.select().from(tasks)).toHaveLength(0);
    expect(await runTaskJobs(deps)).toHaveLength(0);
  });

  it('creates the task row and its job in one transaction: a failing enqueue leaves neither', async () => {
    const { api, org } = await orgWithAdmin(deps);
    await deps.sql.unsafe(`
      create function pg_temp_fail_job() returns trigger language plpgsql as
        $$ begin raise exception 'job queue unavailable'; end $$;
      create trigger fail_job before insert on graphile_worker._private_jobs
        for each row execute function pg_temp_fail_job();`);
    await expect(api.tasks.start(streaming(org.id, 3))).rejects.toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
    });
    expect(await deps.db.select().from(tasks)).toHaveLength(0);
    expect(await runTaskJobs(deps)).toHaveLength(0);

    await deps.sql.unsafe('drop trigger fail_job on graphile_worker._private_jobs');
    const { taskId } = await api.tasks.start(streaming(org.id, 3));
    expect(await deps.db.select({ id: tasks.id }).from(tasks)).toEqual([{ id: taskId }]);
    expect(await runTaskJobs(deps)).toHaveLength(1);
  });
});
