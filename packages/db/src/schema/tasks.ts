import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, real, text, unique, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns.js';
import { taskStatus } from './enums.js';
import { organizations } from './organizations.js';
import { users } from './users.js';

export const tasks = pgTable(
  'tasks',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    kind: text('kind').notNull(),
    input: jsonb('input').$type<Record<string, unknown>>().notNull(),
    status: taskStatus('status').notNull().default('queued'),
    progress: real('progress').notNull().default(0),
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    /** The seq of the newest event; incremented under the row lock, so seq is gapless per task. */
    lastSeq: integer('last_seq').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    cancelRequestedAt: tstz('cancel_requested_at'),
    createdAt: createdAt(),
    startedAt: tstz('started_at'),
    finishedAt: tstz('finished_at'),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('tasks_organization_created_idx').on(t.organizationId, t.createdAt),
    // tasks.start counts an organization's tasks queued or running (its plan's concurrent limit).
    index('tasks_organization_active_idx')
      .on(t.organizationId)
      .where(sql`${t.status} in ('queued', 'running')`),
    check('tasks_progress_range', sql`${t.progress} >= 0 and ${t.progress} <= 1`),
  ],
);

export const taskEvents = pgTable(
  'task_events',
  {
    id: id(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    type: text('type').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    at: tstz('at').notNull().defaultNow(),
  },
  (t) => [unique('task_events_task_seq_key').on(t.taskId, t.seq)],
);

/** Live worker processes; a worker whose heartbeat stops has its job locks released by the others. */
export const workerHeartbeats = pgTable('worker_heartbeats', {
  workerId: text('worker_id').primaryKey(),
  startedAt: tstz('started_at').notNull().defaultNow(),
  lastSeenAt: tstz('last_seen_at').notNull().defaultNow(),
});
