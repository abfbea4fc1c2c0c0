// Inserting started tasks, grouped per organization (issue #12). A start counts the organization's
// tasks queued or running under the organization's lock and inserts its task and job only below
// the plan's limit, in one transaction. Simultaneous starts of one organization used to queue on
// that lock one transaction each, every one holding a pool connection while it waited (measured in
// bench:tasks, 16 clients in one organization: the lock waited p50 3 ms per start, and the other
// queries of the api queued behind the held connections). Now the starts that arrive while an
// organization's transaction is in flight wait in memory and go together in the next one: one
// lock, one count, one insert of every task with its job, one commit. An idle system adds no delay:
// a start with nothing in flight goes at once.
//
// The limit stays exact: the i-th start of a batch (in arrival order) is inserted only when the
// count plus i is at most its own limit, so no accepted task ever sees as many active tasks before
// it as its plan allows. The lock still serialises transactions across api instances.
import { randomUUID } from 'node:crypto';
import { sqlOf } from '@woopdi/core';
import type { Db, TaskStatus } from '@woopdi/db';

export interface TaskStartRequest {
  /** The new task's id when the caller chose it (a reserved feed subscribed to it); else a new one. */
  id?: string;
  organizationId: string;
  userId: string;
  kind: string;
  /** The validated input. */
  input: Record<string, unknown>;
  /** The organization's concurrent-task limit as this start's entitlements say. */
  limit: number;
  maxAttempts: number;
}

/** The inserted task, or undefined when the organization's limit was reached. */
export type TaskStartResult = { taskId: string; status: TaskStatus } | undefined;

interface Pending extends TaskStartRequest {
  id: string;
  resolve(result: TaskStartResult): void;
  reject(error: unknown): void;
}

/** Starts taken into one transaction at most (the rest wait for the next). */
const MAX_BATCH = 100;

interface Queue {
  waiting: Pending[];
}

const starters = new WeakMap<Db, (request: TaskStartRequest) => Promise<TaskStartResult>>();

/** This database's start batcher: one per Db, shared by every request of the process. */
export function taskStarts(db: Db): (request: TaskStartRequest) => Promise<TaskStartResult> {
  let start = starters.get(db);
  if (!start) {
    start = createTaskStarts(db);
    starters.set(db, start);
  }
  return start;
}

function createTaskStarts(db: Db) {
  const sql = sqlOf(db);
  /** Organizations with a transaction in flight, and the starts waiting for the next one. */
  const queues = new Map<string, Queue>();

  async function drain(organizationId: string, queue: Queue) {
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, MAX_BATCH);
      try {
        settle(batch, await insertBatch(organizationId, batch));
      } catch (error) {
        if (batch.length === 1) batch[0]!.reject(error);
        // One start's failure (its user deleted meanwhile: a foreign key) must not fail the others:
        // each goes again on its own, and only what fails alone is refused.
        else
          for (const p of batch) {
            try {
              settle([p], await insertBatch(organizationId, [p]));
            } catch (own) {
              p.reject(own);
            }
          }
      }
    }
    queues.delete(organizationId);
  }

  function settle(batch: Pending[], inserted: Map<string, TaskStatus>) {
    for (const p of batch) {
      const status = inserted.get(p.id);
      p.resolve(status ? { taskId: p.id, status } : undefined);
    }
  }

  /**
   * One transaction in one round trip: BEGIN, the lock, the insert and COMMIT are written together on
   * a reserved connection. The lock comes first, so the insert's statement (its own snapshot, under
   * READ COMMITTED) counts every task a concurrent start of this organization committed before it.
   * A failed statement aborts the transaction and the COMMIT behind it rolls it back. The run_task
   * payload is { taskId } (core's jobPayloads.run_task).
   */
  async function insertBatch(organizationId: string, batch: Pending[]): Promise<Map<string, TaskStatus>> {
    const rows = batch.map((p, i) => ({
      id: p.id,
      created_by: p.userId,
      kind: p.kind,
      input: p.input,
      lim: p.limit,
      max_attempts: p.maxAttempts,
      ord: i + 1,
    }));
    const reserved = await sql.reserve();
    try {
      const results = await Promise.allSettled([
        reserved`begin`,
        reserved`select pg_advisory_xact_lock(hashtextextended(${`woopdi:tasks:${organizationId}`}::text, 0))`,
        reserved<{ id: string; status: TaskStatus }[]>`
        with active as (
          select count(*) as n from tasks
          where organization_id = ${organizationId}::uuid and status in ('queued', 'running')
        ), starts as (
          select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
            as r(id uuid, created_by uuid, kind text, input jsonb, lim int, max_attempts int, ord int)
        ), task as (
          insert into tasks (id, organization_id, created_by, kind, input)
          select starts.id, ${organizationId}::uuid, starts.created_by, starts.kind, starts.input
          from starts, active where active.n + starts.ord <= starts.lim
          order by starts.ord
          returning id, status
        )
        select task.id, task.status, graphile_worker.add_job(
          identifier => 'run_task',
          payload => json_build_object('taskId', task.id),
          max_attempts => starts.max_attempts
        ) is not null as queued
        from task join starts on starts.id = task.id
        order by starts.ord`,
        reserved`commit`,
      ]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      const inserted = (results[2] as PromiseFulfilledResult<{ id: string; status: TaskStatus }[]>).value;
      return new Map(inserted.map((r) => [r.id, r.status]));
    } finally {
      reserved.release();
    }
  }

  return (request: TaskStartRequest): Promise<TaskStartResult> =>
    new Promise<TaskStartResult>((resolve, reject) => {
      const pending: Pending = {
        id: request.id ?? randomUUID(),
        organizationId: request.organizationId,
        userId: request.userId,
        kind: request.kind,
        input: request.input,
        limit: request.limit,
        maxAttempts: request.maxAttempts,
        resolve,
        reject,
      };
      const queue = queues.get(request.organizationId);
      if (queue) {
        queue.waiting.push(pending); // goes with the next transaction of this organization
        return;
      }
      const fresh: Queue = { waiting: [pending] };
      queues.set(request.organizationId, fresh);
      void drain(request.organizationId, fresh);
    });
}
