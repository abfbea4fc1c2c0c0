// Writing task events: each gets the next seq under the task row's lock, is stored in task_events
// in the same transaction as the task's new state, and is published on task:{taskId} after commit.
import { type Db, type DbOrTx, taskEvents, tasks } from '@woopdi/db';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { EventBus } from './bus.js';
import { taskChannel } from './events.js';
import type { TaskEvent, TaskEventType } from './tasks.js';

export interface NewTaskEvent {
  type: TaskEventType;
  message: string;
  progress?: number;
  current?: number;
  total?: number;
  data?: Record<string, unknown>;
}

export type TaskUpdate = Partial<
  Pick<
    typeof tasks.$inferInsert,
    'status' | 'progress' | 'result' | 'error' | 'startedAt' | 'finishedAt' | 'attempts'
  >
>;

/** Appends one event (and applies `update` to the task row) atomically; publishes it after commit. */
export async function appendTaskEvent(
  deps: { db: Db; bus: EventBus },
  taskId: string,
  event: NewTaskEvent,
  update: TaskUpdate = {},
): Promise<{ event: TaskEvent; cancelRequested: boolean }> {
  const out = await deps.db.transaction((tx) => appendInTransaction(tx, taskId, event, update));
  await deps.bus.publish(taskChannel(taskId), out.event);
  return out;
}

export async function appendInTransaction(
  tx: DbOrTx,
  taskId: string,
  event: NewTaskEvent,
  update: TaskUpdate = {},
) {
  const [row] = await tx
    .update(tasks)
    .set({ ...update, lastSeq: sql`${tasks.lastSeq} + 1` })
    .where(eq(tasks.id, taskId))
    .returning({ seq: tasks.lastSeq, cancelRequestedAt: tasks.cancelRequestedAt });
  if (!row) throw new Error(`task ${taskId} does not exist`);
  const at = new Date();
  const payload: Omit<TaskEvent, 'taskId' | 'seq' | 'type' | 'at'> = { message: event.message };
  if (event.progress !== undefined) payload.progress = event.progress;
  if (event.current !== undefined) payload.current = event.current;
  if (event.total !== undefined) payload.total = event.total;
  if (event.data !== undefined) payload.data = event.data;
  await tx.insert(taskEvents).values({ taskId, seq: row.seq, type: event.type, payload, at });
  return {
    event: { taskId, seq: row.seq, type: event.type, ...payload, at: at.toISOString() } as TaskEvent,
    cancelRequested: row.cancelRequestedAt !== null,
  };
}

/** Stored events after `afterSeq`, in order. */
export async function readTaskEvents(db: DbOrTx, taskId: string, afterSeq = 0): Promise<TaskEvent[]> {
  const rows = await db
    .select()
    .from(taskEvents)
    .where(and(eq(taskEvents.taskId, taskId), gt(taskEvents.seq, afterSeq)))
    .orderBy(asc(taskEvents.seq));
  return rows.map((r) => ({
    taskId,
    seq: r.seq,
    type: r.type as TaskEventType,
    ...(r.payload as { message: string }),
    at: r.at.toISOString(),
  }));
}
