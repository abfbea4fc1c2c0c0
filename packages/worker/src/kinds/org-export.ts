import { storeAsset, taskKinds } from '@woopdi/core';
import { invitations, memberships, tasks, users } from '@woopdi/db';
import { asc, eq } from 'drizzle-orm';
import { defineKind } from './define.js';

/**
 * A JSON export of the organization's members, invitations and tasks, one stage each, stored as an
 * asset (source "export"); the result names the asset with its byte size and SHA-256.
 */
export const orgExport = defineKind('org_export', async (_input, report, { db, storage, organizationId }) => {
  const sections = {
    members: () =>
      db
        .select({
          userId: users.id,
          email: users.email,
          name: users.name,
          role: memberships.role,
          joinedAt: memberships.createdAt,
        })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(eq(memberships.organizationId, organizationId))
        .orderBy(asc(memberships.createdAt)),
    invitations: () =>
      db
        .select({
          id: invitations.id,
          email: invitations.email,
          role: invitations.role,
          status: invitations.status,
          createdAt: invitations.createdAt,
        })
        .from(invitations)
        .where(eq(invitations.organizationId, organizationId))
        .orderBy(asc(invitations.createdAt)),
    tasks: () =>
      db
        .select({
          id: tasks.id,
          kind: tasks.kind,
          status: tasks.status,
          createdAt: tasks.createdAt,
          finishedAt: tasks.finishedAt,
        })
        .from(tasks)
        .where(eq(tasks.organizationId, organizationId))
        .orderBy(asc(tasks.createdAt)),
  };
  const names = Object.keys(sections) as (keyof typeof sections)[];
  const document: Record<string, unknown> = { organizationId, exportedAt: new Date().toISOString() };
  const counts: Record<string, number> = {};
  for (const [i, name] of names.entries()) {
    await report.stageStart(name, `Exporting ${name}`);
    const rows = await sections[name]();
    document[name] = rows;
    counts[name] = rows.length;
    await report.stageEnd(name, `Exported ${rows.length} ${name}`, { count: rows.length });
    await report.progress({ current: i + 1, total: names.length, message: `Exported ${name}` });
  }
  const [task] = await db
    .select({ createdBy: tasks.createdBy })
    .from(tasks)
    .where(eq(tasks.id, report.taskId));
  const asset = await storeAsset(
    { db, storage },
    {
      organizationId,
      uploadedBy: task?.createdBy ?? null,
      filename: `export-${(document.exportedAt as string).slice(0, 10)}.json`,
      contentType: 'application/json',
      source: 'export',
      meta: { taskId: report.taskId, counts },
      // Members' emails and roles: readable by those who may start the export, not by every member.
      minReadRole: taskKinds.org_export.minRole,
      body: Buffer.from(JSON.stringify(document)),
    },
  );
  return {
    message: 'Export ready',
    data: { assetId: asset.id, bytes: asset.size, sha256: asset.checksum, counts },
  };
});
