// run_task: runs one row of `tasks` through its kind's handler, reporting every transition as an
// event. A thrown error is retried with graphile-worker's backoff; the last attempt ends the task
// `failed` with task_error — never a silent success.
import {
  appendInTransaction,
  appendTaskEvent,
  metrics,
  type NewTaskEvent,
  type TaskKind,
  type TaskUpdate,
  taskChannel,
  taskKinds,
} from '@woopdi/core';
import { tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import type { KindDefinition } from '../kinds/define.js';
import { createReporter, TaskCancelled, TaskFailed } from '../task-runtime.js';
import { defineTask } from './define.js';

const finished = ['succeeded', 'failed', 'cancelled'];

export const runTask = defineTask('run_task', async ({ taskId }, ctx) => {
  const deps = { db: ctx.db, bus: ctx.bus };
  const { attempts: attempt, max_attempts: maxAttempts } = ctx.helpers.job;
  // For the metrics of the final status; set once the task row is read.
  const seen = { kind: 'unknown', startedAt: Date.now() };
  const finish = async (
    type: 'task_end' | 'task_error',
    message: string,
    update: Parameters<typeof appendTaskEvent>[3],
    data?: Record<string, unknown>,
  ) => {
    const out = await appendTaskEvent(
      deps,
      taskId,
      { type, message, ...(data && { data }) },
      { finishedAt: new Date(), ...update },
    );
    const outcome = update?.status ?? 'unknown';
    metrics.tasks.inc({ kind: seen.kind, outcome });
    metrics.taskDuration.observe({ kind: seen.kind, outcome }, (Date.now() - seen.startedAt) / 1000);
    return out;
  };

  // The task is read, and this attempt's first event written, under the task row's lock: a cancel
  // that ends a queued task commits either before (seen here) or after (it then finds the task
  // running and only flags it) — never between a read of `queued` and the write of task_start.
  const begun = await ctx.db.transaction(async (tx) => {
    const [task] = await tx.select().from(tasks).where(eq(tasks.id, taskId)).for('update');
    if (!task || finished.includes(task.status)) return undefined;
    seen.kind = task.kind;
    seen.startedAt = (task.startedAt ?? new Date()).getTime();
    const append = (event: NewTaskEvent, update: TaskUpdate) =>
      appendInTransaction(tx, taskId, event, update);
    if (task.cancelRequestedAt) {
      const cancelled = {
        type: 'task_error',
        message: 'The task was cancelled.',
        data: { cancelled: true },
      } as const;
      return { event: (await append(cancelled, { status: 'cancelled', finishedAt: new Date() })).event };
    }
    const kind = task.kind as TaskKind;
    const definition = ctx.kinds[kind] as KindDefinition | undefined;
    const parsed = taskKinds[kind]?.input.safeParse(task.input);
    if (!definition || !parsed?.success) {
      const invalid = {
        type: 'task_error',
        message: `Unknown task kind or invalid input for "${task.kind}".`,
      } as const;
      return {
        event: (await append(invalid, { status: 'failed', error: 'invalid task', finishedAt: new Date() }))
          .event,
      };
    }
    const { event } =
      task.status === 'queued'
        ? await append(
            { type: 'task_start', message: `Starting ${kind}` },
            { status: 'running', startedAt: new Date(), attempts: attempt },
          )
        : await append(
            { type: 'update', message: `Attempt ${attempt} of ${maxAttempts}: resuming`, data: { attempt } },
            { attempts: attempt },
          );
    return { event, run: { definition, input: parsed.data, organizationId: task.organizationId } };
  });
  if (!begun) return;
  await ctx.bus.publish(taskChannel(taskId), begun.event);
  if (!begun.run) return;
  const { definition, input, organizationId } = begun.run;

  try {
    const result = await definition.run(input as never, createReporter(deps, taskId, attempt), {
      ...ctx,
      organizationId,
    });
    await finish(
      'task_end',
      result.message,
      { status: 'succeeded', progress: 1, result: result.data },
      result.data,
    );
  } catch (error) {
    if (error instanceof TaskCancelled) {
      await finish('task_error', 'The task was cancelled.', { status: 'cancelled' }, { cancelled: true });
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof TaskFailed) {
      await finish('task_error', message, { status: 'failed', error: message }, { attempts: attempt });
      return;
    }
    if (attempt >= maxAttempts) {
      ctx.logger.error({ err: error, taskId }, 'task failed after its last attempt');
      await finish(
        'task_error',
        `Task failed with error: ${message}`,
        { status: 'failed', error: message },
        { attempts: attempt },
      );
      return;
    }
    await appendTaskEvent(deps, taskId, {
      type: 'update',
      message: `Attempt ${attempt} of ${maxAttempts} failed: ${message}. Retrying.`,
      data: { attempt, error: message },
    });
    throw error;
  }
});
