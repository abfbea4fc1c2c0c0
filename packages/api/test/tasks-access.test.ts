// Issue #14, finding 1: who may start a task kind, and who may read what it produces. A MEMBER could
// start org_export and download every member's email and role, which members.list refuses them.
// Each kind now names its minimum role and entitlement in core's registry (checked by tasks.start),
// and the export's file carries a minimum read role that the assets service enforces.
import { storeAsset, type TaskKindDefinition, taskKindNames, taskKinds } from '@woopdi/core';
import { tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeTaskStream } from '../src/streams.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { addMember, codeOf, makePro, SAMPLE_TASK_INPUT, signUp } from './fixtures.js';

// A Stripe key (never called) so an organization can be on Pro; a server Replicate token so
// generate_image's only precondition left is the plan's entitlement.
const ENV = {
  STRIPE_SECRET_KEY: 'sk_test_task_access',
  REPLICATE_API_TOKEN: 'r8_task_access_test_token',
  PLAN_FREE_SEATS: '10000',
};
let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps(ENV);
});
afterAll(() => deps.close());

async function team() {
  const owner = await signUp(deps);
  const org = await owner.api.organizations.create({ name: 'Export Co' });
  return {
    org,
    owner,
    moderator: await addMember(deps, org.id, 'MODERATOR'),
    member: await addMember(deps, org.id, 'MEMBER'),
  };
}

const tasksOf = (organizationId: string) =>
  deps.db.select().from(tasks).where(eq(tasks.organizationId, organizationId));

describe('tasks.start checks the kind’s minimum role', () => {
  it('org_export needs MODERATOR: a MEMBER is refused 403 naming the role, and nothing is queued', async () => {
    expect(taskKinds.org_export.minRole).toBe('MODERATOR');
    const { org, member } = await team();
    const error = await member.api.tasks
      .start({ organizationId: org.id, kind: 'org_export', input: {} })
      .catch((e: unknown) => e as { code: string; message: string });
    expect(error).toMatchObject({ code: 'FORBIDDEN' });
    expect((error as { message: string }).message).toBe(
      'Starting org_export tasks needs the MODERATOR role in the organization; yours is MEMBER.',
    );
    expect(await tasksOf(org.id)).toEqual([]);
  });

  it('a MODERATOR and an ADMIN start org_export', async () => {
    const { org, owner, moderator } = await team();
    for (const person of [moderator, owner]) {
      const started = await person.api.tasks.start({ organizationId: org.id, kind: 'org_export', input: {} });
      expect(started.status).toBe('queued');
    }
    expect((await tasksOf(org.id)).map((t) => t.kind)).toEqual(['org_export', 'org_export']);
  });

  it('every kind with an entitlement is 412 naming it on Free, and starts on Pro', async () => {
    const entitled = taskKindNames.filter((k) => (taskKinds[k] as TaskKindDefinition).entitlement);
    expect(entitled).toContain('generate_image');
    for (const kind of entitled) {
      const feature = (taskKinds[kind] as TaskKindDefinition).entitlement!;
      const { org, owner } = await team();
      const start = () =>
        owner.api.tasks.start({ organizationId: org.id, kind, input: SAMPLE_TASK_INPUT[kind] });
      await expect(start(), kind).rejects.toMatchObject({
        code: 'PRECONDITION_FAILED',
        message: expect.stringContaining(`"${feature}" needs the Pro plan`),
      });
      expect(await tasksOf(org.id)).toEqual([]);
      await makePro(deps, org.id);
      expect((await start()).status, kind).toBe('queued');
    }
  });
});

describe('a task is hidden below its kind’s role', () => {
  it('a MEMBER does not see an org_export task: unlisted, and get / cancel / events answer 404', async () => {
    const { org, moderator, member } = await team();
    const exported = await moderator.api.tasks.start({
      organizationId: org.id,
      kind: 'org_export',
      input: {},
    });
    const demo = await member.api.tasks.start({
      organizationId: org.id,
      kind: 'example_streaming',
      input: SAMPLE_TASK_INPUT.example_streaming,
    });
    const listed = await member.api.tasks.list({ organizationId: org.id });
    expect(listed.tasks.map((t) => t.id)).toEqual([demo.taskId]);
    const byKind = await member.api.tasks.list({ organizationId: org.id, kind: 'org_export' });
    expect(byKind.tasks).toEqual([]);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const unknownError = await member.api.tasks.get({ taskId: unknown }).catch((e: unknown) => e as Error);
    for (const call of [
      () => member.api.tasks.get({ taskId: exported.taskId }),
      () => member.api.tasks.cancel({ taskId: exported.taskId }),
      () => member.api.tasks.events({ taskId: exported.taskId }),
    ]) {
      const error = await call().catch((e: unknown) => e as Error);
      expect(error).toMatchObject({ code: 'NOT_FOUND', message: (unknownError as Error).message });
    }
    // The plain SSE and websocket routes' gate hides it too.
    const streamGate = (token: string) =>
      authorizeTaskStream(
        { ...deps, accessToken: token, requestId: 'test', ip: '127.0.0.1', userAgent: 'vitest' },
        exported.taskId,
      );
    await expect(streamGate(member.tokens.accessToken)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(streamGate(moderator.tokens.accessToken)).resolves.toMatchObject({ organizationId: org.id });
    // The MODERATOR who started it sees it, and it was not cancelled by the refused call.
    expect((await moderator.api.tasks.get({ taskId: exported.taskId })).status).toBe('queued');
    const seen = await moderator.api.tasks.list({ organizationId: org.id });
    expect(seen.tasks.map((t) => t.id).sort()).toEqual([demo.taskId, exported.taskId].sort());
  });
});

describe('the export’s file is readable only at the export’s role', () => {
  /** The file org_export stores (the worker's call, asserted in the worker's tests), and a plain upload. */
  async function exportAndUpload() {
    const t = await team();
    const exported = await storeAsset(deps, {
      organizationId: t.org.id,
      // Its starter, since demoted to MEMBER: the role counts, not who started it.
      uploadedBy: t.member.user.id,
      filename: 'export-2026-12-02.json',
      contentType: 'application/json',
      source: 'export',
      minReadRole: taskKinds.org_export.minRole,
      body: Buffer.from(JSON.stringify({ members: [{ email: t.owner.email, role: 'ADMIN' }] })),
    });
    const upload = await storeAsset(deps, {
      organizationId: t.org.id,
      uploadedBy: t.member.user.id,
      filename: 'notes.txt',
      contentType: 'text/plain',
      source: 'upload',
      body: Buffer.from('anyone in the team may read this'),
    });
    return { ...t, exported, upload };
  }

  it('a MEMBER does not see it in the list, and get / delete answer 404 like an unknown id', async () => {
    const { org, member, exported, upload } = await exportAndUpload();
    const listed = await member.api.assets.list({ organizationId: org.id });
    expect(listed.assets.map((a) => a.id)).toEqual([upload.id]);
    const bySource = await member.api.assets.list({ organizationId: org.id, source: 'export' });
    expect(bySource.assets).toEqual([]);

    const unknown = '00000000-0000-4000-8000-000000000000';
    const unknownError = await member.api.assets
      .get({ organizationId: org.id, assetId: unknown })
      .catch((e: unknown) => e as Error);
    const byId = { organizationId: org.id, assetId: exported.id };
    for (const call of [
      () => member.api.assets.get(byId),
      () => member.api.assets.delete(byId),
      () => member.api.assets.completeUpload(byId),
    ]) {
      const error = await call().catch((e: unknown) => e as Error);
      expect(error).toMatchObject({ code: 'NOT_FOUND', message: (unknownError as Error).message });
    }
    // Still there: the refused delete removed nothing.
    expect(await deps.storage.stat(exported.storageKey)).toBeTruthy();
    expect(
      (await member.api.assets.get({ organizationId: org.id, assetId: upload.id })).downloadUrl,
    ).toBeTruthy();
  });

  it('a MODERATOR and an ADMIN list it and get a download URL', async () => {
    const { org, owner, moderator, exported } = await exportAndUpload();
    for (const person of [moderator, owner]) {
      const listed = await person.api.assets.list({ organizationId: org.id, source: 'export' });
      expect(listed.assets.map((a) => [a.id, a.minReadRole])).toEqual([[exported.id, 'MODERATOR']]);
      const got = await person.api.assets.get({ organizationId: org.id, assetId: exported.id });
      expect(got.downloadUrl).toMatch(/^http/);
      expect(got.minReadRole).toBe('MODERATOR');
    }
    expect(await codeOf(moderator.api.assets.delete({ organizationId: org.id, assetId: exported.id }))).toBe(
      'OK',
    );
  });
});
