// The helper every task kind reports through (DESIGN §6): each call appends one event — one SQL
// statement: next seq, stored in task_events with the task row's new state — then publishes it on
// task:{taskId} without waiting for the bus, and tells the kind when the task was cancelled (or has
// already ended), so it stops within one step.
import {
  appendTaskEvent,
  type EventBus,
  type Logger,
  type NewTaskEvent,
  readTaskEvents,
  type TaskUpdate,
} from '@woopdi/core';
import type { Db } from '@woopdi/db';

/** Thrown by a reporter call once cancellation was requested; the runner ends the task `cancelled`. */
export class TaskCancelled extends Error {
  override name = 'TaskCancelled';
}

/**
 * Thrown by a kind for a definite failure that a retry cannot fix (the provider said the job
 * failed): the task ends `failed` at once with this message, without using its remaining attempts.
 */
export class TaskFailed extends Error {
  override name = 'TaskFailed';
}

export interface TaskReporter {
  readonly taskId: string;
  /** This run's attempt number (1 for the first). */
  readonly attempt: number;
  progress(p: {
    current: number;
    total: number;
    message?: string;
    data?: Record<string, unknown>;
  }): Promise<void>;
  stageStart(stage: string, message?: string): Promise<void>;
  stageEnd(stage: string, message?: string, data?: Record<string, unknown>): Promise<void>;
  update(message: string, data?: Record<string, unknown>): Promise<void>;
  /** The `current` of the last progress event of any earlier attempt: where a retry may resume. */
  resumePoint(): Promise<number>;
}

export function createReporter(
  deps: { db: Db; bus: EventBus; logger?: Logger },
  taskId: string,
  attempt: number,
  /** True when this attempt began the task (task_start): there is no earlier progress to resume. */
  fresh = false,
): TaskReporter {
  const emit = async (event: NewTaskEvent, update: TaskUpdate = {}) => {
    // TaskAlreadyFinished (the task ended elsewhere) propagates: the runner stops without a word.
    const { cancelRequested } = await appendTaskEvent(deps, taskId, event, update);
    if (cancelRequested) throw new TaskCancelled('The task was cancelled.');
  };
  return {
    taskId,
    attempt,
    async progress({ current, total, message, data }) {
      const progress = total > 0 ? Math.min(1, Math.max(0, current / total)) : 0;
      await emit(
        {
          type: 'progress',
          message: message ?? `Step ${current}/${total}`,
          progress,
          current,
          total,
          ...(data && { data }),
        },
        { progress },
      );
    },
    stageStart: (stage, message) =>
      emit({ type: 'stage_start', message: message ?? `Starting: ${stage}`, data: { stage } }),
    stageEnd: (stage, message, data) =>
      emit({ type: 'stage_end', message: message ?? `Completed: ${stage}`, data: { stage, ...data } }),
    update: (message, data) => emit({ type: 'update', message, ...(data && { data }) }),
    async resumePoint() {
      if (fresh) return 0;
      const events = await readTaskEvents(deps.db, taskId);
      const last = events.filter((e) => e.type === 'progress').at(-1);
      return last?.current ?? 0;
    },
  };
}
