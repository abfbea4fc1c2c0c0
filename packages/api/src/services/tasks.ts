import { randomUUID } from 'node:crypto';
import {
  appendEvent,
  badRequest,
  conflict,
  forbidden,
  notFound,
  publishTaskEvent,
  type TaskKind,
  taskKindNames,
  taskKinds,
} from '@woopdi/core';
import { type OrgRole, type TaskStatus, tasks } from '@woopdi/db';
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { hasOrgRole } from '../middleware/membership.js';
import type { ServiceDeps } from './deps.js';
import { entitlementsOf } from './entitlements.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';
import { existingTaskFanout } from './task-fanout.js';
import { assertCanStart, assertMayStart } from './task-preconditions.js';
import { concurrencyRefusal, consumeTaskStart } from './task-quotas.js';
import { type TaskScope, taskScopeCache } from './task-scopes.js';
import { taskStarts } from './task-start-batches.js';

type TaskRow = typeof tasks.$inferSelect;

export const publicTask = (t: TaskRow) => ({
  id: t.id,
  organizationId: t.organizationId,
  createdBy: t.createdBy,
  kind: t.kind,
  input: t.input,
  status: t.status,
  progress: t.progress,
  result: t.result ?? null,
  error: t.error,
  lastEventId: t.lastSeq,
  createdAt: t.createdAt.toISOString(),
  startedAt: t.startedAt?.toISOString() ?? null,
  finishedAt: t.finishedAt?.toISOString() ?? null,
});

const terminal: TaskStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminalStatus = (s: TaskStatus) => terminal.includes(s);

/**
 * Checks the kind's role (403), the caller's start rate (429), the input (400) and the kind's
 * entitlement (412); then, in one transaction (shared with the organization's simultaneous starts),
 * takes the organization's task lock, counts its tasks queued or running and inserts the task and
 * its job only while that count is under the plan's limit (else 412). The job exists if and only if
 * the task row does, and graphile-worker's NOTIFY at commit wakes an idle worker at once.
 */
export async function startTask(
  deps: ServiceDeps,
  actor: Membership,
  input: { kind: TaskKind; input: Record<string, unknown> },
) {
  const kind = taskKinds[input.kind];
  assertMayStart(actor, input.kind);
  const taskId = randomUUID();
  // Where this process serves task streams, the task's feed subscribes now, beside the rate-limit
  // call: its follower, who opens it once this answers, then needs no SUBSCRIBE or read of its own.
  const reservation = existingTaskFanout(deps.bus)?.reserve(taskId);
  try {
    await consumeTaskStart(deps, actor);
    const parsed = kind.input.safeParse(input.input);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `input.${i.path.join('.')}: ${i.message}`).join('; ');
      throw badRequest(detail);
    }
    const organizationId = actor.organizationId;
    const ent = await entitlementsOf(deps, deps.db, organizationId);
    await assertCanStart(deps, actor, input.kind, ent);
    if (reservation) await reservation.seal();
    // The insert, grouped with this organization's simultaneous starts (task-start-batches.ts).
    const task = await taskStarts(deps.db)({
      id: taskId,
      organizationId,
      userId: actor.userId,
      kind: input.kind,
      input: parsed.data,
      limit: ent.concurrentTasks,
      maxAttempts: kind.maxAttempts,
    });
    if (!task) throw concurrencyRefusal(deps, ent, organizationId);
    taskScopeCache(deps.db).set(task.taskId, { organizationId, minRole: roleOfKind(input.kind) });
    return task;
  } catch (error) {
    reservation?.cancel();
    throw error;
  }
}

/** The role a stored kind needs to be seen; a kind no longer in the registry is for ADMINs only. */
const roleOfKind = (kind: string): OrgRole => taskKinds[kind as TaskKind]?.minRole ?? 'ADMIN';

/** The kinds a role may see: a task is hidden (404, unlisted) below its kind's role. */
const kindsVisibleTo = (role: OrgRole) => taskKindNames.filter((k) => hasOrgRole(role, taskKinds[k].minRole));

/**
 * The organization of a task and the role its kind needs, for the gates that resolve `taskId`: an
 * org_export's result and events are not a MEMBER's business, so to a MEMBER it does not exist.
 */
export async function taskScope(
  deps: Pick<ServiceDeps, 'db'>,
  taskId: string,
): Promise<TaskScope | undefined> {
  const [row] = await deps.db
    .select({ organizationId: tasks.organizationId, kind: tasks.kind })
    .from(tasks)
    .where(eq(tasks.id, taskId));
  return row && { organizationId: row.organizationId, minRole: roleOfKind(row.kind) };
}

async function load(deps: ServiceDeps, actor: Membership, taskId: string) {
  const [row] = await deps.db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.organizationId, actor.organizationId)));
  if (!row || !hasOrgRole(actor.role, roleOfKind(row.kind))) throw notFound('Task');
  return row;
}

export const getTask = async (deps: ServiceDeps, actor: Membership, taskId: string) =>
  publicTask(await load(deps, actor, taskId));

export async function listTasks(
  deps: ServiceDeps,
  actor: Membership,
  input: {
    status?: TaskStatus | undefined;
    kind?: TaskKind | undefined;
    limit: number;
    cursor?: string | undefined;
  },
) {
  const before = decodeCursor(input.cursor);
  const rows = await deps.db
    .select()
    .from(tasks)
    .where(
      and(
        eq(tasks.organizationId, actor.organizationId),
        inArray(tasks.kind, kindsVisibleTo(actor.role)),
        input.status ? eq(tasks.status, input.status) : undefined,
        input.kind ? eq(tasks.kind, input.kind) : undefined,
        keysetAfter(tasks.createdAt, tasks.id, before, 'desc'),
      ),
    )
    .orderBy(desc(tasks.createdAt), desc(tasks.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (t) => ({ at: t.createdAt, id: t.id }));
  return { tasks: items.map(publicTask), nextCursor };
}

/**
 * The creator or a MODERATOR+ may cancel. A queued task ends at once; a running one is flagged and
 * its worker ends it within one step.
 */
export async function cancelTask(deps: ServiceDeps, actor: Membership, taskId: string) {
  const outcome = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, taskId), eq(tasks.organizationId, actor.organizationId)))
      .for('update');
    if (!row || !hasOrgRole(actor.role, roleOfKind(row.kind))) throw notFound('Task');
    if (row.createdBy !== actor.userId && !hasOrgRole(actor.role, 'MODERATOR')) {
      throw forbidden('Only the member who started this task, or a MODERATOR or ADMIN, can cancel it.');
    }
    if (isTerminalStatus(row.status)) throw conflict(`This task already ${row.status}.`);
    if (row.status === 'queued') {
      const { event } = await appendEvent(
        tx,
        taskId,
        {
          type: 'task_error',
          message: 'The task was cancelled before it started.',
          data: { cancelled: true },
        },
        { status: 'cancelled', finishedAt: new Date() },
      );
      await tx.update(tasks).set({ cancelRequestedAt: new Date() }).where(eq(tasks.id, taskId));
      return { event };
    }
    await tx.update(tasks).set({ cancelRequestedAt: new Date() }).where(eq(tasks.id, taskId));
    return { event: undefined };
  });
  if (outcome.event) publishTaskEvent(deps.bus, outcome.event, deps.logger);
  return getTask(deps, actor, taskId);
}
