// Simultaneous task starts of one organization share a transaction (task-start-batches.ts). What
// must hold: each start gets its own task and exactly one job, the plan's limit stays exact (per
// start, in arrival order), and one start that cannot be inserted fails alone.
import { randomUUID } from 'node:crypto';
import { tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type TaskStartRequest, taskStarts } from '../src/services/task-start-batches.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { signUp } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

async function team() {
  const owner = await signUp(deps);
  const org = await owner.api.organizations.create({ name: 'Batch Co' });
  return { userId: owner.user.id, organizationId: org.id };
}

const request = (t: { userId: string; organizationId: string }, limit: number): TaskStartRequest => ({
  ...t,
  kind: 'example_streaming',
  input: { steps: 1, intervalMs: 0 },
  limit,
  maxAttempts: 3,
});

/** Transactions that inserted the organization's tasks (rows of one transaction share an xmin). */
const transactionsOf = async (organizationId: string) => {
  const [row] = await deps.sql<{ n: number }[]>`
    select count(distinct xmin::text)::int as n from tasks where organization_id = ${organizationId}::uuid`;
  return row!.n;
};

const jobsOf = async (organizationId: string) => {
  const rows = await deps.sql<{ taskId: string; maxAttempts: number }[]>`
    select j.payload->>'taskId' as "taskId", j.max_attempts as "maxAttempts"
    from graphile_worker._private_jobs j
    join tasks t on t.id = (j.payload->>'taskId')::uuid
    where t.organization_id = ${organizationId}::uuid`;
  return rows;
};

it('starts arriving while one is in flight go together: one transaction, a task and a job each', async () => {
  const t = await team();
  const start = taskStarts(deps.db);
  const results = await Promise.all(Array.from({ length: 10 }, () => start(request(t, 100))));
  const ids = results.map((r) => r?.taskId);
  expect(ids.every(Boolean)).toBe(true);
  expect(new Set(ids).size).toBe(10);
  expect(results.every((r) => r?.status === 'queued')).toBe(true);
  // The first went at once, alone; the nine that came meanwhile shared the next transaction.
  expect(await transactionsOf(t.organizationId)).toBe(2);
  const jobs = await jobsOf(t.organizationId);
  expect(jobs.map((j) => j.taskId).sort()).toEqual([...ids].sort());
  expect(jobs.every((j) => j.maxAttempts === 3)).toBe(true);
  const rows = await deps.db.select().from(tasks).where(eq(tasks.organizationId, t.organizationId));
  expect(rows.every((r) => r.createdBy === t.userId && r.kind === 'example_streaming')).toBe(true);
});

it('the limit stays exact inside a batch, per start and in arrival order', async () => {
  const t = await team();
  const start = taskStarts(deps.db);
  // 1 in flight, then 9 together with 1 active: only one more fits under a limit of 3 …
  const results = await Promise.all(Array.from({ length: 10 }, () => start(request(t, 3))));
  expect(results.filter(Boolean)).toHaveLength(3);
  expect(results.slice(0, 3).every(Boolean)).toBe(true); // the earliest arrivals
  expect(results.slice(3).every((r) => r === undefined)).toBe(true);
  // … and a start whose own limit is higher is let in past refused ones, never past its own limit.
  const mixed = await Promise.all([start(request(t, 3)), start(request(t, 3)), start(request(t, 5))]);
  expect(mixed.map(Boolean)).toEqual([false, false, true]);
  expect(await jobsOf(t.organizationId)).toHaveLength(4);
});

it('a start that cannot be inserted fails alone; its batch-mates are inserted', async () => {
  const t = await team();
  const start = taskStarts(deps.db);
  const outcomes = await Promise.allSettled([
    start(request(t, 100)),
    start(request(t, 100)),
    start({ ...request(t, 100), userId: randomUUID() }), // no such user: a foreign key violation
    start(request(t, 100)),
  ]);
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  expect(await jobsOf(t.organizationId)).toHaveLength(3);
});
