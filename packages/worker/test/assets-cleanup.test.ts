// assets_cleanup (hourly cron): stale pending uploads and the files of deleted organizations go,
// object and row; everything else stays. Run as a real job through graphile-worker.
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { enqueueJob, storeAsset } from '@woopdi/core';
import { assets, organizations } from '@woopdi/db';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWorker, type WorkerHandle } from '../src/index.js';
import { jobRows, waitFor } from './helpers.js';
import { orgWithAdmin } from './task-helpers.js';

let deps: TestDeps;
let worker: WorkerHandle;
beforeAll(async () => {
  deps = await createTestDeps();
  worker = await startWorker({ ...deps, pollInterval: 50 });
});
afterAll(async () => {
  await worker.stop();
  await deps.close();
});

const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);

async function file(organizationId: string, name: string, status: 'pending' | 'ready', createdAt: Date) {
  const row = await storeAsset(deps, {
    organizationId,
    uploadedBy: null,
    filename: name,
    contentType: 'text/plain',
    source: 'upload',
    body: Buffer.from(name),
  });
  await deps.db.update(assets).set({ status, createdAt }).where(eq(assets.id, row.id));
  return row;
}

it('removes pending uploads older than 24 h and every file of deleted organizations; keeps the rest', async () => {
  const live = await orgWithAdmin(deps, 'Live');
  const gone = await orgWithAdmin(deps, 'Gone');
  const stale = await file(live.org.id, 'stale.txt', 'pending', hoursAgo(25));
  const fresh = await file(live.org.id, 'fresh.txt', 'pending', hoursAgo(23));
  const oldReady = await file(live.org.id, 'old-ready.txt', 'ready', hoursAgo(24 * 30));
  const goneFiles = [
    await file(gone.org.id, 'a.txt', 'ready', hoursAgo(1)),
    await file(gone.org.id, 'b.txt', 'pending', hoursAgo(1)),
  ];
  await deps.db.update(organizations).set({ deletedAt: new Date() }).where(eq(organizations.id, gone.org.id));

  await enqueueJob(deps.db, 'assets_cleanup', {});
  await waitFor(
    async () => (await jobRows(deps, 'assets_cleanup')).length === 0,
    'the cleanup job to finish',
  );

  const left = await deps.db
    .select({ id: assets.id })
    .from(assets)
    .where(inArray(assets.organizationId, [live.org.id, gone.org.id]));
  expect(left.map((r) => r.id).sort()).toEqual([fresh.id, oldReady.id].sort());
  for (const removed of [stale, ...goneFiles])
    expect(await deps.storage.stat(removed.storageKey)).toBeUndefined();
  for (const kept of [fresh, oldReady]) expect(await deps.storage.stat(kept.storageKey)).toBeDefined();
});

it('is scheduled hourly as a cron item', async () => {
  const rows = await deps.sql<
    { identifier: string }[]
  >`select identifier from graphile_worker._private_known_crontabs`;
  expect(rows.map((r) => r.identifier)).toContain('assets_cleanup');
});
