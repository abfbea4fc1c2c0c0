// run_task: runs one row of `tasks` through its kind's handler, reporting every transition as an
// event. A thrown error is retried with graphile-worker's backoff; the last attempt ends the task
// `failed` with task_error — never a silent success. Between graphile-worker handing over the job
// and the first event there is one SQL statement (beginAttempt); each later event is one more
// (appendEvent), published on the bus without waiting for it.
import {
  appendTaskEvent,
  beginAttempt,
  metrics,
  publishTaskEvent,
  TaskAlreadyFinished,
  type TaskKind,
  type TaskUpdate,
  taskKinds,
} from '@woopdi/core';
import type { KindDefinition } from '../kinds/define.js';
import { createReporter, TaskCancelled, TaskFailed } from '../task-runtime.js';
import { defineTask } from './define.js';

export const runTask = defineTask('run_task', async ({ taskId }, ctx) => {
  const deps = { db: ctx.db, bus: ctx.bus, logger: ctx.logger };
  const { attempts: attempt, max_attempts: maxAttempts } = ctx.helpers.job;
  const begun = await beginAttempt(ctx.db, taskId, attempt, maxAttempts);
  if (!begun) return; // gone, or already finished (a cancelled queued task): nothing to run
  publishTaskEvent(ctx.bus, begun.event, ctx.logger);
  const kind = begun.kind as TaskKind;
  const outcome = (status: string) => {
    metrics.tasks.inc({ kind, outcome: status });
    metrics.taskDuration.observe({ kind, outcome: status }, (Date.now() - begun.startedAtMs) / 1000);
  };
  if (begun.event.type === 'task_error') return void outcome('cancelled');

  /** The terminal event. Refused (TaskAlreadyFinished) when something else ended the task first. */
  const finish = async (
    type: 'task_end' | 'task_error',
    message: string,
    update: TaskUpdate & { status: 'succeeded' | 'failed' | 'cancelled' },
    data?: Record<string, unknown>,
  ) => {
    await appendTaskEvent(
      deps,
      taskId,
      { type, message, ...(data && { data }) },
      { finishedAt: new Date(), ...update },
    );
    outcome(update.status);
  };

  const definition = ctx.kinds[kind] as KindDefinition | undefined;
  const parsed = taskKinds[kind]?.input.safeParse(begun.input);
  if (!definition || !parsed?.success) {
    await finish('task_error', `Unknown task kind or invalid input for "${begun.kind}".`, {
      status: 'failed',
      error: 'invalid task',
    }).catch(ignoreFinished);
    return;
  }

  try {
    const result = await definition.run(
      parsed.data as never,
      createReporter(deps, taskId, attempt, begun.event.type === 'task_start'),
      // Not `{ ...ctx, organizationId }`: a hidden class per job in V8 (api's context.ts).
      Object.assign({}, ctx, { organizationId: begun.organizationId }),
    );
    await finish(
      'task_end',
      result.message,
      { status: 'succeeded', progress: 1, result: result.data },
      result.data,
    );
  } catch (error) {
    // The task already ended (its terminal event is stored): nothing to add, nothing to retry.
    if (error instanceof TaskAlreadyFinished) return;
    if (error instanceof TaskCancelled) {
      await finish(
        'task_error',
        'The task was cancelled.',
        { status: 'cancelled' },
        { cancelled: true },
      ).catch(ignoreFinished);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof TaskFailed) {
      await finish('task_error', message, { status: 'failed', error: message }, { attempts: attempt }).catch(
        ignoreFinished,
      );
      return;
    }
    if (attempt >= maxAttempts) {
      ctx.logger.error({ err: error, taskId }, 'task failed after its last attempt');
      await finish(
        'task_error',
        `Task failed with error: ${message}`,
        { status: 'failed', error: message },
        { attempts: attempt },
      ).catch(ignoreFinished);
      return;
    }
    try {
      await appendTaskEvent(deps, taskId, {
        type: 'update',
        message: `Attempt ${attempt} of ${maxAttempts} failed: ${message}. Retrying.`,
        data: { attempt, error: message },
      });
    } catch (appendError) {
      // Ended meanwhile: a retry would only be refused.
      if (appendError instanceof TaskAlreadyFinished) return;
      throw appendError;
    }
    throw error;
  }
});

/** A terminal append refused because the task had already ended is the outcome we wanted anyway. */
function ignoreFinished(error: unknown): void {
  if (!(error instanceof TaskAlreadyFinished)) throw error;
}
