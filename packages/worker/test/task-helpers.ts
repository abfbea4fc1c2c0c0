// Helpers of the task tests: organizations and members through the real API, the stored events of a
// task, and graphile-worker's view of its job.
import { callerFor, type TestDeps } from '@woopdi/api/testing';
import { isTerminalEvent, readTaskEvents, type TaskEvent, taskChannel } from '@woopdi/core';
import { memberships, type OrgRole, type TaskStatus, tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { expect } from 'vitest';
import { jobRows, uniqueEmail, waitFor } from './helpers.js';

export type Api = ReturnType<typeof callerFor>;

export interface TestUser {
  userId: string;
  api: Api;
}

export async function signupUser(deps: TestDeps): Promise<TestUser> {
  const { user, tokens } = await callerFor(deps).auth.signup({
    email: uniqueEmail(),
    password: 'correct horse battery',
  });
  return { userId: user.id, api: callerFor(deps, tokens.accessToken) };
}

/** A user who created a team organization (its ADMIN). */
export async function orgWithAdmin(
  deps: TestDeps,
  name = 'Tasks',
): Promise<TestUser & { org: Awaited<ReturnType<Api['organizations']['create']>> }> {
  const admin = await signupUser(deps);
  const org = await admin.api.organizations.create({ name });
  return { ...admin, org };
}

/** A new user added to the organization with `role`. */
export async function addMember(
  deps: TestDeps,
  organizationId: string,
  role: OrgRole = 'MEMBER',
): Promise<TestUser> {
  const member = await signupUser(deps);
  await deps.db.insert(memberships).values({ organizationId, userId: member.userId, role });
  return member;
}

export const taskRow = async (deps: TestDeps, taskId: string) =>
  (await deps.db.select().from(tasks).where(eq(tasks.id, taskId)))[0]!;

export const storedEvents = (deps: TestDeps, taskId: string) => readTaskEvents(deps.db, taskId);

/** Waits until the task reaches one of `statuses` and its terminal event is stored; returns the row. */
export async function waitForStatus(
  deps: TestDeps,
  taskId: string,
  statuses: TaskStatus[],
  timeoutMs = 15_000,
) {
  return waitFor(
    async () => {
      const row = await taskRow(deps, taskId);
      if (!statuses.includes(row.status)) return undefined;
      const events = await storedEvents(deps, taskId);
      return events.some((e) => isTerminalEvent(e.type)) && row;
    },
    `task ${taskId} to become ${statuses.join('|')}`,
    timeoutMs,
  );
}

/** seq runs 1..N with no gap and no repeat; exactly one terminal event, and it is the last. */
export function expectWellFormed(events: TaskEvent[]) {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events.filter((e) => isTerminalEvent(e.type))).toHaveLength(1);
  expect(isTerminalEvent(events.at(-1)!.type)).toBe(true);
}

/** Collects what the bus delivers on the task's channel until (and including) the terminal event. */
export async function followBus(deps: TestDeps, taskId: string) {
  const subscription = deps.bus.subscribe<TaskEvent>(taskChannel(taskId));
  await subscription.ready;
  const received: TaskEvent[] = [];
  const done = (async () => {
    for await (const event of subscription) {
      received.push(event);
      if (isTerminalEvent(event.type)) break;
    }
    return received;
  })();
  return { received, done, close: () => subscription.close() };
}

export const runTaskJobs = (deps: TestDeps) => jobRows(deps, 'run_task');

/** The graphile job of the only run_task in the queue, once its failed attempt `attempt` is recorded. */
export async function failedAttempt(deps: TestDeps, attempt: number) {
  const [job] = await waitFor(async () => {
    const rows = await runTaskJobs(deps);
    return rows[0]?.attempts === attempt && rows[0].locked_at === null && rows[0].last_error
      ? rows
      : undefined;
  }, `failed attempt ${attempt} of the run_task job`);
  return job!;
}

/** Skips graphile-worker's exponential backoff (e^attempts seconds): the retry becomes due now. */
export async function retryNow(deps: TestDeps, jobId: string) {
  await deps.sql`update graphile_worker._private_jobs set run_at = now() where id = ${jobId}`;
}
