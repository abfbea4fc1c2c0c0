// A worker process killed with SIGKILL mid-task: its job lock is released by a live worker once the
// dead one's heartbeat stops (not after graphile-worker's 4 hours), the task resumes after its last
// reported step, and the events continue with gapless, strictly increasing seq.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { workerHeartbeats } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startWorker, type WorkerHandle } from '../src/index.js';
import { waitFor } from './helpers.js';
import { expectWellFormed, orgWithAdmin, runTaskJobs, storedEvents, waitForStatus } from './task-helpers.js';

const serverDir = fileURLToPath(new URL('../../server', import.meta.url));

let deps: TestDeps;
let child: ChildProcess | undefined;
let worker: WorkerHandle | undefined;

beforeEach(async () => {
  deps = await createTestDeps();
});
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
  await worker?.stop();
  worker = undefined;
  await deps.close();
});

/** The service-mode worker (packages/server/src/main-worker.ts) as its own process. */
function spawnWorkerProcess() {
  const output: string[] = [];
  // The sources (the package's tests run before anything is built), as tsx runs them in development.
  const proc = spawn(
    process.execPath,
    ['--conditions=@woopdi/source', '--import', 'tsx', 'src/main-worker.ts'],
    {
      cwd: serverDir,
      env: {
        ...process.env,
        DATABASE_URL: deps.databaseUrl,
        // Empty means unset (in-process bus): the process's events then reach no one but task_events.
        REDIS_URL: process.env.TEST_REDIS_URL ?? '',
        LOG_LEVEL: 'warn',
        JWT_SECRET: 'test-jwt-secret-0123456789-0123456789',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout!.on('data', (b: Buffer) => output.push(b.toString()));
  proc.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
  return { proc, output };
}

it('kill -9 of a worker process mid-task: another worker releases its lock and finishes, seq continuing', async () => {
  const { api, org } = await orgWithAdmin(deps);
  const steps = 40;
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'example_streaming',
    input: { steps, intervalMs: 100 },
  });

  const spawned = spawnWorkerProcess();
  child = spawned.proc;
  const exited = once(child, 'exit');
  // A few steps reported, and the job locked by a worker of that process (its heartbeat row).
  const lockedBy = await waitFor(
    async () => {
      if (child!.exitCode !== null)
        throw new Error(`worker process exited early:\n${spawned.output.join('')}`);
      const progress = (await storedEvents(deps, taskId)).filter((e) => e.type === 'progress');
      if (progress.length < 3) return undefined;
      const [job] = await deps.sql<{ locked_by: string | null }[]>`
        select j.locked_by from graphile_worker._private_jobs j
        join worker_heartbeats h on h.worker_id = j.locked_by`;
      return job?.locked_by ?? undefined;
    },
    'the worker process to run the task',
    20_000,
  );
  child.kill('SIGKILL');
  const [, signal] = await exited;
  expect(signal).toBe('SIGKILL');

  const before = await storedEvents(deps, taskId);
  const reached = before.filter((e) => e.type === 'progress').at(-1)!.current!;
  expect(reached).toBeGreaterThanOrEqual(3);
  expect(reached).toBeLessThan(steps);
  const [stuck] = await runTaskJobs(deps);
  expect(stuck).toMatchObject({ attempts: 1 });
  expect(stuck!.locked_at).not.toBeNull();

  worker = await startWorker({
    ...deps,
    pollInterval: 100,
    liveness: { heartbeatMs: 200, deadAfterMs: 1000 },
  });
  const row = await waitForStatus(deps, taskId, ['succeeded', 'failed', 'cancelled'], 20_000);
  expect(row).toMatchObject({ status: 'succeeded', progress: 1, attempts: 2, result: { steps } });

  const events = await storedEvents(deps, taskId);
  expectWellFormed(events);
  // What was stored before the kill is untouched; the next event is the resumption.
  expect(events.slice(0, before.length)).toEqual(before);
  expect(events[before.length]).toMatchObject({
    type: 'update',
    message: 'Attempt 2 of 3: resuming',
    data: { attempt: 2 },
  });
  expect(events.filter((e) => e.type === 'task_start')).toHaveLength(1);
  expect(events.filter((e) => e.type === 'task_end')).toHaveLength(1);
  // Every step exactly once, in order, across the interruption.
  expect(events.filter((e) => e.type === 'progress').map((e) => e.current)).toEqual(
    Array.from({ length: steps }, (_, i) => i + 1),
  );
  for (let i = 1; i < events.length; i++) {
    expect(Date.parse(events[i]!.at)).toBeGreaterThanOrEqual(Date.parse(events[i - 1]!.at));
  }
  // The dead worker's heartbeat was reaped along with its lock, and the job is gone.
  expect(
    await deps.db.select().from(workerHeartbeats).where(eq(workerHeartbeats.workerId, lockedBy)),
  ).toEqual([]);
  await waitFor(async () => (await runTaskJobs(deps)).length === 0, 'the job to leave the queue');
});

it('a live worker keeps the lock of a job that runs longer than deadAfterMs (its heartbeat covers the lock holder)', async () => {
  worker = await startWorker({
    ...deps,
    pollInterval: 100,
    liveness: { heartbeatMs: 100, deadAfterMs: 400 },
  });
  const { api, org } = await orgWithAdmin(deps);
  const steps = 15;
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'example_streaming',
    input: { steps, intervalMs: 100 },
  });
  // graphile-worker 0.17 locks jobs in the name of the worker *pool*: that id must be heartbeating.
  const holder = await waitFor(async () => {
    const [job] = await deps.sql<
      { locked_by: string | null }[]
    >`select locked_by from graphile_worker._private_jobs`;
    return job?.locked_by;
  }, 'the job to be locked');
  const row = await waitForStatus(deps, taskId, ['succeeded', 'failed', 'cancelled'], 10_000);
  expect(row).toMatchObject({ status: 'succeeded', attempts: 1 });
  const events = await storedEvents(deps, taskId);
  expectWellFormed(events);
  // One run, never force-unlocked and started again beside itself.
  expect(events.map((e) => e.type)).toEqual(['task_start', ...Array(steps).fill('progress'), 'task_end']);
  expect(events.filter((e) => e.type === 'progress').map((e) => e.current)).toEqual(
    Array.from({ length: steps }, (_, i) => i + 1),
  );
  expect(
    await deps.db.select().from(workerHeartbeats).where(eq(workerHeartbeats.workerId, holder)),
  ).toHaveLength(1);
});
