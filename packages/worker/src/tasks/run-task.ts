// run_task: runs one row of `tasks` through its kind's handler, reporting every transition as an
// event. A thrown error is retried with graphile-worker's backoff; the last attempt ends the task
// `failed` with task_error — never a silent success.
import { appendTaskEvent, taskKinds, type TaskKind } from '@woopdi/core';
import { tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import type { KindDefinition } from '../kinds/define.js';
import { createReporter, TaskCancelled } from '../task-runtime.js';
import { defineTask } from './define.js';

export const runTask = defineTask('run_task', async ({ taskId }, ctx) => {
  const [task] = await ctx.db.select().from(tasks).where(eq(tasks.id, taskId));
  if (!task || task.status === 'succeeded' || task.status === 'failed' || task.status === 'cancelled') return;
  const deps = { db: ctx.db, bus: ctx.bus };
  const { attempts: attempt, max_attempts: maxAttempts } = ctx.helpers.job;
  const finish = (type: 'task_end' | 'task_error', message: string, update: Parameters<typeof appendTaskEvent>[3], data?: Record<string, unknown>) =>
    appendTaskEvent(deps, taskId, { type, message, ...(data && { data }) }, { finishedAt: new Date(), ...update });

  if (task.cancelRequestedAt) {
    await finish('task_error', 'The task was cancelled.', { status: 'cancelled' }, { cancelled: true });
    return;
  }
  const kind = task.kind as TaskKind;
  const definition = ctx.kinds[kind] as KindDefinition | undefined;
  const parsed = taskKinds[kind]?.input.safeParse(task.input);
  if (!definition || !parsed?.success) {
    await finish('task_error', `Unknown task kind or invalid input for "${task.kind}".`, { status: 'failed', error: 'invalid task' });
    return;
  }

  if (task.status === 'queued') {
    await appendTaskEvent(deps, taskId, { type: 'task_start', message: `Starting ${kind}` }, { status: 'running', startedAt: new Date(), attempts: attempt });
  } else {
    await appendTaskEvent(deps, taskId, { type: 'update', message: `Attempt ${attempt} of ${maxAttempts}: resuming`, data: { attempt } }, { attempts: attempt });
  }

  try {
    const result = await definition.run(parsed.data as never, createReporter(deps, taskId, attempt), { ...ctx, organizationId: task.organizationId });
    await finish('task_end', result.message, { status: 'succeeded', progress: 1, result: result.data }, result.data);
  } catch (error) {
    if (error instanceof TaskCancelled) {
      await finish('task_error', 'The task was cancelled.', { status: 'cancelled' }, { cancelled: true });
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (attempt >= maxAttempts) {
      ctx.logger.error({ err: error, taskId }, 'task failed after its last attempt');
      await finish('task_error', `Task failed with error: ${message}`, { status: 'failed', error: message }, { attempts: attempt });
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
