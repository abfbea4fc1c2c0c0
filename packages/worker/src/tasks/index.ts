// The worker's task list: one definition per job name of core's contract (the mapped type makes a
// job name without a task a compile error), one file per task.
import type { JobName } from '@woopdi/core';
import type { TaskList } from 'graphile-worker';
import { assetsCleanup } from './assets-cleanup.js';
import { billingReconcile } from './billing-reconcile.js';
import type { TaskDefinition, TaskDeps } from './define.js';
import { runTask } from './run-task.js';
import { sendEmail } from './send-email.js';
import { stripeCancelSubscription } from './stripe-cancel-subscription.js';
import { stripeEvent } from './stripe-event.js';
import { webhookDeliver } from './webhook-deliver.js';

export {
  defineTask,
  InvalidJobPayloadError,
  type KindDefinitions,
  requireStripe,
  type TaskContext,
  type TaskDefinition,
  type TaskDeps,
  type TaskHandler,
} from './define.js';

export const taskDefinitions: { readonly [N in JobName]: TaskDefinition<N> } = {
  send_email: sendEmail,
  run_task: runTask,
  stripe_event: stripeEvent,
  billing_reconcile: billingReconcile,
  stripe_cancel_subscription: stripeCancelSubscription,
  assets_cleanup: assetsCleanup,
  webhook_deliver: webhookDeliver,
};

/** graphile-worker's TaskList, with every task bound to `deps`. */
export function createTaskList(deps: TaskDeps): TaskList {
  const list: TaskList = {};
  for (const definition of Object.values(taskDefinitions))
    list[definition.name] = definition.createTask(deps);
  return list;
}
