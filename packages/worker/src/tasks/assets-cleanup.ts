// assets_cleanup (hourly cron): removes uploads that were started but never completed within 24 h,
// and every file of organizations that were deleted. Objects go first, then rows, so a failure
// midway leaves a row that the next run finds again — never an object nobody knows about.
import { type Logger, organizationPrefix, type Storage } from '@woopdi/core';
import { assets, type Db, organizations } from '@woopdi/db';
import { and, asc, eq, isNotNull, lt } from 'drizzle-orm';
import { defineTask } from './define.js';

export const PENDING_UPLOAD_TTL_MS = 24 * 3600_000;
const BATCH = 200;

export interface CleanupReport {
  stalePendingRemoved: number;
  deletedOrganizations: number;
  objectsOfDeletedOrganizations: number;
}

export async function cleanUpAssets(
  deps: { db: Db; storage: Storage; logger: Logger },
  now = new Date(),
): Promise<CleanupReport> {
  const report: CleanupReport = {
    stalePendingRemoved: 0,
    deletedOrganizations: 0,
    objectsOfDeletedOrganizations: 0,
  };
  const cutoff = new Date(now.getTime() - PENDING_UPLOAD_TTL_MS);
  for (;;) {
    const stale = await deps.db
      .select({ id: assets.id, storageKey: assets.storageKey })
      .from(assets)
      .where(and(eq(assets.status, 'pending'), lt(assets.createdAt, cutoff)))
      .orderBy(asc(assets.createdAt))
      .limit(BATCH);
    for (const row of stale) {
      await deps.storage.delete(row.storageKey);
      // Only while still pending: a row completed in the meantime is left alone.
      await deps.db.delete(assets).where(and(eq(assets.id, row.id), eq(assets.status, 'pending')));
      report.stalePendingRemoved++;
    }
    if (stale.length < BATCH) break;
  }

  const deleted = await deps.db
    .selectDistinct({ organizationId: assets.organizationId })
    .from(assets)
    .innerJoin(organizations, eq(organizations.id, assets.organizationId))
    .where(isNotNull(organizations.deletedAt));
  for (const { organizationId } of deleted) {
    report.objectsOfDeletedOrganizations += await deps.storage.deletePrefix(
      organizationPrefix(organizationId),
    );
    await deps.db.delete(assets).where(eq(assets.organizationId, organizationId));
    report.deletedOrganizations++;
  }
  if (report.stalePendingRemoved || report.deletedOrganizations)
    deps.logger.info(report, 'assets cleaned up');
  return report;
}

export const assetsCleanup = defineTask('assets_cleanup', async (_payload, ctx) => {
  await cleanUpAssets(ctx);
});
