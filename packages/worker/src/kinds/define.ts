import type { TaskInput, TaskKind } from '@woopdi/core';
import type { TaskReporter } from '../task-runtime.js';
import type { TaskContext } from '../tasks/define.js';

export interface KindResult {
  /** The task_end message. */
  message: string;
  /** Stored as the task's result and sent as the task_end event's data. */
  data: Record<string, unknown>;
}

export type KindHandler<K extends TaskKind> = (
  input: TaskInput<K>,
  report: TaskReporter,
  ctx: TaskContext & { organizationId: string },
) => Promise<KindResult>;

export interface KindDefinition<K extends TaskKind = TaskKind> {
  kind: K;
  run: KindHandler<K>;
}

export const defineKind = <K extends TaskKind>(kind: K, run: KindHandler<K>): KindDefinition<K> => ({
  kind,
  run,
});
