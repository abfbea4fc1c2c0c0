// Issue #14, finding 13: one MEMBER queued 40 tasks of 50 minutes each in 0.7 s. Now an organization
// may have only its plan's number of tasks queued or running (412 naming the limit), counted under a
// lock so simultaneous starts cannot overshoot, and each user only so many starts a minute (429 with
// retryAfterSeconds).
import { type AppError, taskKinds } from '@woopdi/core';
import { tasks } from '@woopdi/db';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { addMember, codeOf, makePro, signUp } from './fixtures.js';

const FREE = 3;
const PRO = 5;
// A Stripe key (never called) so an organization can be on Pro.
const ENV = {
  STRIPE_SECRET_KEY: 'sk_test_task_limits',
  PLAN_FREE_CONCURRENT_TASKS: String(FREE),
  PLAN_PRO_CONCURRENT_TASKS: String(PRO),
  PLAN_FREE_SEATS: '10000',
};
let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps(ENV);
});
afterAll(() => deps.close());

async function team(d: TestDeps = deps) {
  const owner = await signUp(d);
  const org = await owner.api.organizations.create({ name: 'Busy Co' });
  return { owner, org };
}

type Api = Awaited<ReturnType<typeof signUp>>['api'];
const start = (api: Api, organizationId: string) =>
  api.tasks.start({ organizationId, kind: 'example_streaming', input: { steps: 1, intervalMs: 0 } });

const soloOf = async (api: Api) =>
  (await api.users.memberships({ includeSolo: true })).memberships.find((m) => m.isSolo)!.organizationId;

const active = async (organizationId: string) =>
  (
    await deps.db
      .select({ id: tasks.id })
      .from(tasks)
      .where(and(eq(tasks.organizationId, organizationId), inArray(tasks.status, ['queued', 'running'])))
  ).length;

describe('concurrent tasks per organization, by plan', () => {
  it(`Free: ${FREE} queued or running, the next is 412 naming the limit; a slot frees when one ends`, async () => {
    const { owner, org } = await team();
    const started = [];
    for (let i = 0; i < FREE; i++) started.push(await start(owner.api, org.id));
    const refused = await start(owner.api, org.id).catch(
      (e: unknown) => e as { code: string; message: string },
    );
    expect(refused).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((refused as { message: string }).message).toContain(
      `The Free plan of this organization allows ${FREE} tasks queued or running at once`,
    );
    expect((refused as { message: string }).message).toContain('upgrade to Pro');
    expect(await active(org.id)).toBe(FREE);

    // Another member is refused too: the limit is the organization's, not the user's.
    const member = await addMember(deps, org.id, 'MEMBER');
    expect(await codeOf(start(member.api, org.id))).toBe('PRECONDITION_FAILED');

    await owner.api.tasks.cancel({ taskId: started[0]!.taskId });
    await deps.db.update(tasks).set({ status: 'succeeded' }).where(eq(tasks.id, started[1]!.taskId));
    expect(await codeOf(start(member.api, org.id))).toBe('OK');
    expect(await codeOf(start(owner.api, org.id))).toBe('OK');
    expect(await codeOf(start(owner.api, org.id))).toBe('PRECONDITION_FAILED');
    expect(await active(org.id)).toBe(FREE);
  });

  it(`Pro allows ${PRO}, more than Free's ${FREE}`, async () => {
    const { owner, org } = await team();
    await makePro(deps, org.id);
    for (let i = 0; i < PRO; i++) expect(await codeOf(start(owner.api, org.id)), `start ${i + 1}`).toBe('OK');
    await expect(start(owner.api, org.id)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining(`The Pro plan of this organization allows ${PRO} tasks`),
    });
    expect(await active(org.id)).toBe(PRO);
  });

  it('the limit of one organization leaves another alone', async () => {
    const { owner, org } = await team();
    for (let i = 0; i < FREE; i++) await start(owner.api, org.id);
    expect(await codeOf(start(owner.api, org.id))).toBe('PRECONDITION_FAILED');
    expect(await codeOf(start(owner.api, await soloOf(owner.api)))).toBe('OK');
  });

  it('simultaneous starts never pass the limit (counted under the organization’s lock)', async () => {
    for (let round = 0; round < 3; round++) {
      const { owner, org } = await team();
      const members = await Promise.all([1, 2, 3].map(() => addMember(deps, org.id, 'MEMBER')));
      const apis = [owner.api, ...members.map((m) => m.api)];
      const codes = await Promise.all(
        Array.from({ length: 12 }, (_, i) => codeOf(start(apis[i % 4]!, org.id))),
      );
      expect(
        codes.filter((c) => c === 'OK'),
        `round ${round}: ${codes}`,
      ).toHaveLength(FREE);
      expect(codes.filter((c) => c === 'PRECONDITION_FAILED')).toHaveLength(12 - FREE);
      expect(await active(org.id)).toBe(FREE);
      // Every accepted task has its job; no refused one left a job behind.
      const [jobs] = await deps.sql<{ n: number }[]>`
        select count(*)::int as n from graphile_worker._private_jobs j
        join tasks t on t.id = (j.payload->>'taskId')::uuid
        where t.organization_id = ${org.id}`;
      expect(jobs!.n).toBe(FREE);
    }
  });
});

describe('task starts per user (RATE_LIMIT_TASK_STARTS)', () => {
  let limited: TestDeps;
  beforeAll(async () => {
    limited = await createTestDeps({ RATE_LIMIT_TASK_STARTS: '3/60', PLAN_FREE_SEATS: '10000' });
  });
  afterAll(() => limited.close());

  it('the 4th start in a minute is 429 with retryAfterSeconds; other users are not held back', async () => {
    const { owner, org } = await team(limited);
    for (let i = 0; i < 3; i++) expect(await codeOf(start(owner.api, org.id))).toBe('OK');
    const refused = await start(owner.api, org.id).catch(
      (e: unknown) => e as { code: string; cause: AppError },
    );
    expect(refused).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    const cause = (refused as { cause: AppError }).cause;
    expect(cause.message).toMatch(/^You have started too many tasks\. Try again in \d+ seconds\.$/);
    const retryAfter = cause.details?.retryAfterSeconds as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The limit answers before the input is looked at.
    expect(
      await codeOf(
        owner.api.tasks.start({ organizationId: org.id, kind: 'example_streaming', input: { steps: -1 } }),
      ),
    ).toBe('TOO_MANY_REQUESTS');
    // Per user, in any organization: the same user's solo organization is refused too.
    expect(await codeOf(start(owner.api, await soloOf(owner.api)))).toBe('TOO_MANY_REQUESTS');
    // A refused start created nothing.
    expect(
      (await limited.db.select({ id: tasks.id }).from(tasks).where(eq(tasks.createdBy, owner.user.id)))
        .length,
    ).toBe(3);
    // Another member of the same organization still starts.
    const member = await addMember(limited, org.id, 'MEMBER');
    expect(await codeOf(start(member.api, org.id))).toBe('OK');
  });

  it('a start refused for its role costs no attempt', async () => {
    const { owner, org } = await team(limited);
    const member = await addMember(limited, org.id, 'MEMBER');
    const exportStart = () =>
      member.api.tasks.start({ organizationId: org.id, kind: 'org_export', input: {} });
    expect(taskKinds.org_export.minRole).not.toBe('MEMBER');
    for (let i = 0; i < 5; i++) expect(await codeOf(exportStart())).toBe('FORBIDDEN');
    for (let i = 0; i < 3; i++) expect(await codeOf(start(member.api, org.id))).toBe('OK');
    expect(await codeOf(start(member.api, org.id))).toBe('TOO_MANY_REQUESTS');
    expect(await codeOf(start(owner.api, org.id))).toBe('OK');
  });
});
