import {
  appendEvent,
  badRequest,
  conflict,
  forbidden,
  notFound,
  publishTaskEvent,
  sqlOf,
  type TaskKind,
  taskKinds,
} from '@woopdi/core';
import { type TaskStatus, tasks } from '@woopdi/db';
import { and, desc, eq } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { hasOrgRole } from '../middleware/membership.js';
import type { ServiceDeps } from './deps.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';
import { assertCanStart } from './task-preconditions.js';

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
 * Validates the input against the kind's schema, then creates the task and its job in one
 * statement (one round trip, prepared): the job exists if and only if the task row does, and
 * graphile-worker's NOTIFY at commit wakes an idle worker at once.
 */
export async function startTask(
  deps: ServiceDeps,
  actor: Membership,
  input: { kind: TaskKind; input: Record<string, unknown> },
) {
  const kind = taskKinds[input.kind];
  const parsed = kind.input.safeParse(input.input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `input.${i.path.join('.')}: ${i.message}`).join('; ');
    throw badRequest(detail);
  }
  await assertCanStart(deps, actor, input.kind);
  // The run_task payload is { taskId } (core's jobPayloads.run_task), built here from the new id.
  const [task] = await sqlOf(deps.db)<{ id: string; status: TaskStatus }[]>`
    with task as (
      insert into tasks (organization_id, created_by, kind, input)
      values (${actor.organizationId}::uuid, ${actor.userId}::uuid, ${input.kind}::text, ${JSON.stringify(parsed.data)}::jsonb)
      returning id, status
    )
    select id, status, graphile_worker.add_job(
      identifier => 'run_task',
      payload => json_build_object('taskId', id),
      max_attempts => ${kind.maxAttempts}::int
    ) is not null as queued
    from task`;
  return { taskId: task!.id, status: task!.status };
}

/** The organization of a task, for the gate that resolves `taskId`. */
export async function taskOrganization(deps: Pick<ServiceDeps, 'db'>, taskId: string) {
  const [row] = await deps.db
    .select({ organizationId: tasks.organizationId })
    .from(tasks)
    .where(eq(tasks.id, taskId));
  return row?.organizationId;
}

async function load(deps: ServiceDeps, actor: Membership, taskId: string) {
  const [row] = await deps.db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, taskId), eq(tasks.organizationId, actor.organizationId)));
  if (!row) throw notFound('Task');
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
    if (!row) throw notFound('Task');
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
