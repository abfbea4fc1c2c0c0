// Writing task events (DESIGN §6). One event is one SQL statement, prepared once per connection:
// it takes the next seq under the task row's lock, applies the task's new state, stores the event
// and refuses when the task has already ended — so nothing is ever appended after a terminal event,
// whoever tries. Publishing on task:{taskId} happens afterwards without waiting: the event is
// already durable in Postgres, and a lost publish only delays followers (they re-read the table).
import type { DbHandle, DbOrTx } from '@woopdi/db';
import type { EventBus } from './bus.js';
import { taskChannel } from './events.js';
import type { Logger } from './logger.js';
import { metrics } from './metrics.js';
import { isTerminalEvent, type TaskEvent, type TaskEventType } from './tasks.js';
import { WEBHOOK_JOB_MAX_ATTEMPTS } from './webhooks/emit.js';

export interface NewTaskEvent {
  type: TaskEventType;
  message: string;
  progress?: number;
  current?: number;
  total?: number;
  data?: Record<string, unknown>;
}

type TaskStatusValue = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TaskUpdate {
  status?: TaskStatusValue;
  progress?: number;
  result?: Record<string, unknown>;
  error?: string;
  startedAt?: Date;
  finishedAt?: Date;
  attempts?: number;
}

const terminalStatuses: readonly TaskStatusValue[] = ['succeeded', 'failed', 'cancelled'];

/** The append was refused: the task has already ended (its terminal event is stored). */
export class TaskAlreadyFinished extends Error {
  override name = 'TaskAlreadyFinished';
  readonly taskId: string;

  constructor(taskId: string) {
    super(`task ${taskId} has already finished: no event may follow its terminal event`);
    this.taskId = taskId;
  }
}

type Sql = DbHandle['sql'];

/**
 * The postgres.js client under a drizzle handle or transaction. Its tagged templates are prepared
 * statements (parsed once per connection, then one round trip each); drizzle's are not.
 */
export function sqlOf(db: DbOrTx): Sql {
  return (db._.session as unknown as { client: Sql }).client;
}

export interface AppendDeps {
  db: DbOrTx;
  bus: EventBus;
  /** Publish failures are logged here (throttled) and counted; they never fail the append. */
  logger?: Logger;
}

export interface Appended {
  event: TaskEvent;
  /** tasks.cancel flagged the task: the kind should stop at its next step. */
  cancelRequested: boolean;
}

function payloadOf(event: NewTaskEvent): Omit<TaskEvent, 'taskId' | 'seq' | 'type' | 'at'> {
  const payload: Omit<TaskEvent, 'taskId' | 'seq' | 'type' | 'at'> = { message: event.message };
  if (event.progress !== undefined) payload.progress = event.progress;
  if (event.current !== undefined) payload.current = event.current;
  if (event.total !== undefined) payload.total = event.total;
  if (event.data !== undefined) payload.data = event.data;
  return payload;
}

/**
 * Appends one event and applies `update` to the task row in one statement (inside the caller's
 * transaction when `db` is one). A terminal event always leaves the task in a final status
 * (`succeeded` for task_end, `failed` for task_error unless `update.status` says otherwise), and a
 * task in a final status takes no more events: the statement refuses (TaskAlreadyFinished). Does
 * not publish: see publishTaskEvent / appendTaskEvent.
 */
export async function appendEvent(
  db: DbOrTx,
  taskId: string,
  event: NewTaskEvent,
  update: TaskUpdate = {},
): Promise<Appended> {
  const terminal = isTerminalEvent(event.type);
  if (!terminal && update.status && terminalStatuses.includes(update.status)) {
    throw new Error(`a ${event.type} event cannot end task ${taskId}: only task_end / task_error do`);
  }
  const status = update.status ?? (terminal ? (event.type === 'task_end' ? 'succeeded' : 'failed') : null);
  const at = new Date();
  const payload = payloadOf(event);
  const hookType = status === 'succeeded' ? 'task.succeeded' : status === 'failed' ? 'task.failed' : null;
  const sql = sqlOf(db);
  // The WHERE clause is the guard: a concurrent terminal append commits first and this one, re-checking
  // the row it waited for, matches nothing. Every parameter is cast, so the statement is prepared
  // once with stable types.
  const rows = await sql<{ seq: number; cancelRequested: boolean; webhooks: number }[]>`
    with appended as (
      update tasks set
        last_seq = last_seq + 1,
        status = coalesce(${status}::task_status, status),
        progress = coalesce(${update.progress ?? null}::real, progress),
        result = coalesce(${update.result === undefined ? null : JSON.stringify(update.result)}::jsonb, result),
        error = coalesce(${update.error ?? null}::text, error),
        started_at = coalesce(${update.startedAt?.toISOString() ?? null}::timestamptz, started_at),
        finished_at = coalesce(${update.finishedAt?.toISOString() ?? null}::timestamptz, finished_at),
        attempts = coalesce(${update.attempts ?? null}::int, attempts),
        updated_at = now()
      where id = ${taskId}::uuid and status in ('queued', 'running')
      returning id, last_seq, cancel_requested_at, organization_id, kind, error
    ), stored as (
      insert into task_events (task_id, seq, type, payload, at)
      select id, last_seq, ${event.type}::text, ${JSON.stringify(payload)}::jsonb, ${at.toISOString()}::timestamptz
      from appended
      returning seq
    ), hooks as (
      -- task.succeeded / task.failed for the organization's webhook endpoints, in this same statement
      -- (so they exist if and only if the task's end does); the body as core's webhookBody builds it.
      insert into webhook_deliveries (endpoint_id, organization_id, event_type, body, next_attempt_at)
      select e.id, a.organization_id, ${hookType}::text,
        json_build_object(
          'type', ${hookType}::text,
          'timestamp', ${at.toISOString()}::text,
          'organizationId', a.organization_id,
          'data', case when ${hookType}::text = 'task.failed'
            then json_build_object('taskId', a.id, 'kind', a.kind, 'error', a.error)
            else json_build_object('taskId', a.id, 'kind', a.kind) end
        )::text,
        now()
      from appended a
      join webhook_endpoints e on e.organization_id = a.organization_id
      where ${hookType}::text is not null and e.enabled
        and (cardinality(e.event_types) = 0 or ${hookType}::text = any(e.event_types))
      returning id
    ), jobs as (
      select graphile_worker.add_job(
        identifier => 'webhook_deliver',
        payload => json_build_object('deliveryId', h.id),
        max_attempts => ${WEBHOOK_JOB_MAX_ATTEMPTS}::int,
        job_key => 'webhook_delivery:' || h.id
      ) from hooks h
    )
    select stored.seq, appended.cancel_requested_at is not null as "cancelRequested",
      (select count(*) from jobs)::int as "webhooks"
    from stored, appended`;
  const row = rows[0];
  if (!row) throw await refusal(sql, taskId);
  return {
    event: { taskId, seq: row.seq, type: event.type, ...payload, at: at.toISOString() } as TaskEvent,
    cancelRequested: row.cancelRequested,
  };
}

/** Why an append matched no row: the task ended (the usual case), or it does not exist. */
async function refusal(sql: Sql, taskId: string): Promise<Error> {
  const [task] = await sql<{ status: string }[]>`select status from tasks where id = ${taskId}::uuid`;
  return task ? new TaskAlreadyFinished(taskId) : new Error(`task ${taskId} does not exist`);
}

export interface AttemptStart {
  /** The first event of this attempt: task_start, `update` (a retry resuming), or task_error (cancelled). */
  event: TaskEvent;
  kind: string;
  input: unknown;
  organizationId: string;
  /** When the task's first attempt started (epoch ms). */
  startedAtMs: number;
}

/**
 * Begins an attempt of a task in one statement, the only work between graphile-worker handing over
 * the job and the task's first event: a queued task becomes `running` with task_start; a running
 * one (a retry) gets an `update` "Attempt N of M: resuming"; one whose cancellation was requested
 * ends `cancelled` with task_error. Undefined when the task is gone or has already finished.
 *
 * A cancel of a queued task commits either before (this matches nothing) or after (it then finds
 * the task running and only flags it): never between.
 */
export async function beginAttempt(
  db: DbOrTx,
  taskId: string,
  attempt: number,
  maxAttempts: number,
): Promise<AttemptStart | undefined> {
  const at = new Date().toISOString();
  const resuming = `Attempt ${attempt} of ${maxAttempts}: resuming`;
  const rows = await sqlOf(db)<
    {
      seq: number;
      type: TaskEventType;
      payload: Omit<TaskEvent, 'taskId' | 'seq' | 'type' | 'at'>;
      kind: string;
      input: unknown;
      organizationId: string;
      startedAtMs: number;
    }[]
  >`
    with previous as (
      select status from tasks where id = ${taskId}::uuid
    ), started as (
      update tasks set
        last_seq = last_seq + 1,
        status = (case when cancel_requested_at is not null then 'cancelled' else 'running' end)::task_status,
        started_at = coalesce(started_at, ${at}::timestamptz),
        finished_at = case when cancel_requested_at is not null then ${at}::timestamptz else finished_at end,
        attempts = case when cancel_requested_at is not null then attempts else ${attempt}::int end,
        updated_at = now()
      where id = ${taskId}::uuid and status in ('queued', 'running')
      returning id, last_seq, kind, input, organization_id, started_at,
        cancel_requested_at is not null as cancelled
    ), first_event as (
      select started.*,
        case when cancelled then 'task_error' when previous.status = 'queued' then 'task_start' else 'update' end
          as type,
        case
          when cancelled then jsonb_build_object('message', 'The task was cancelled.', 'data', '{"cancelled":true}'::jsonb)
          when previous.status = 'queued' then jsonb_build_object('message', 'Starting ' || kind)
          else jsonb_build_object('message', ${resuming}::text, 'data', jsonb_build_object('attempt', ${attempt}::int))
        end as payload
      from started, previous
    ), stored as (
      insert into task_events (task_id, seq, type, payload, at)
      select id, last_seq, type, payload, ${at}::timestamptz from first_event
      returning seq
    )
    select first_event.last_seq as seq, type, payload, kind, input, organization_id as "organizationId",
      (extract(epoch from started_at) * 1000)::float8 as "startedAtMs"
    from first_event, stored`;
  const row = rows[0];
  if (!row) return undefined;
  return {
    event: { taskId, seq: row.seq, type: row.type, ...row.payload, at } as TaskEvent,
    kind: row.kind,
    input: row.input,
    organizationId: row.organizationId,
    startedAtMs: row.startedAtMs,
  };
}

/** At most one log line per this many ms about failing publishes (a Redis outage fails them all). */
const PUBLISH_LOG_INTERVAL_MS = 5_000;
const publishLog = { lastAt: 0, suppressed: 0 };

/**
 * Publishes an event on task:{taskId} without making the caller wait. A failure is counted
 * (woopdi_event_bus_publish_failures_total) and logged, never thrown: the event is in Postgres,
 * and followers read it from there.
 */
export function publishTaskEvent(bus: EventBus, event: TaskEvent, logger?: Logger): void {
  let published: Promise<void>;
  try {
    published = bus.publish(taskChannel(event.taskId), event);
  } catch (error) {
    published = Promise.reject(error);
  }
  published.catch((err: unknown) => {
    metrics.busPublishFailures.inc();
    const now = Date.now();
    if (now - publishLog.lastAt < PUBLISH_LOG_INTERVAL_MS) {
      publishLog.suppressed++;
      return;
    }
    logger?.warn(
      { err, taskId: event.taskId, seq: event.seq, suppressed: publishLog.suppressed },
      'task event stored but not published on the bus; followers will read it from the database',
    );
    publishLog.lastAt = now;
    publishLog.suppressed = 0;
  });
}

/** appendEvent, then publishTaskEvent: one round trip, and the caller does not wait for the bus. */
export async function appendTaskEvent(
  deps: AppendDeps,
  taskId: string,
  event: NewTaskEvent,
  update: TaskUpdate = {},
): Promise<Appended> {
  const out = await appendEvent(deps.db, taskId, event, update);
  publishTaskEvent(deps.bus, out.event, deps.logger);
  return out;
}

/** Stored events after `afterSeq` (and up to `throughSeq` when given), in order. */
export async function readTaskEvents(
  db: DbOrTx,
  taskId: string,
  afterSeq = 0,
  throughSeq = 2_147_483_647,
): Promise<TaskEvent[]> {
  const rows = await sqlOf(db)<StoredEventRow[]>`
    select seq, type, payload, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
    from task_events
    where task_id = ${taskId}::uuid and seq > ${afterSeq}::int and seq <= ${throughSeq}::int
    order by seq`;
  return rows.map((r) => storedEvent(taskId, r));
}

type StoredEventRow = { seq: number; type: TaskEventType; payload: { message: string }; at: string };

/** A task_events row (payload and `at` as read above) as the event the API carries. */
const storedEvent = (taskId: string, r: StoredEventRow): TaskEvent => ({
  taskId,
  seq: r.seq,
  type: r.type,
  ...r.payload,
  at: r.at,
});

/** A task's position and, while it is young, every event it has: what a new follower needs first. */
export interface TaskHead {
  lastSeq: number;
  status: string;
  /** Events 1..lastSeq in order when lastSeq ≤ the `eventsUpTo` asked for; else undefined. */
  events: TaskEvent[] | undefined;
}

/**
 * The task's last_seq and status and, when it has at most `eventsUpTo` events, those events: one
 * statement, one snapshot (an append updates last_seq and inserts its event atomically), so a
 * follower of a young task needs no second read for its backfill. Undefined for no such task.
 */
export async function readTaskHead(
  db: DbOrTx,
  taskId: string,
  eventsUpTo: number,
): Promise<TaskHead | undefined> {
  const [row] = await sqlOf(db)<
    {
      lastSeq: number;
      status: string;
      events: StoredEventRow[] | null;
    }[]
  >`
    select t.last_seq as "lastSeq", t.status,
      case when t.last_seq <= ${eventsUpTo}::int then coalesce((
        select json_agg(json_build_object(
          'seq', e.seq, 'type', e.type, 'payload', e.payload,
          'at', to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        ) order by e.seq)
        from task_events e where e.task_id = t.id and e.seq <= t.last_seq
      ), '[]'::json) end as events
    from tasks t where t.id = ${taskId}::uuid`;
  if (!row) return undefined;
  const events = row.events?.map((r) => storedEvent(taskId, r));
  return { lastSeq: row.lastSeq, status: row.status, events };
}
