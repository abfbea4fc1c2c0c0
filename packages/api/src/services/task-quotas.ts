// Task quotas (issue #14): starts per user (RATE_LIMIT_TASK_STARTS, 429 with Retry-After) and tasks
// queued or running per organization, from its plan (PLAN_*_CONCURRENT_TASKS, 412). The concurrency
// count is taken under a per-organization advisory lock in the transaction that inserts the task
// (see startTask), so simultaneous starts cannot both take the last slot.
import { preconditionFailed } from '@woopdi/core';
import type { Membership } from '../middleware/membership.js';
import type { ServiceDeps } from './deps.js';
import type { Entitlements } from './entitlements.js';

/** Counts one start for the user, across organizations; TOO_MANY_REQUESTS once over the limit. */
export const consumeTaskStart = (deps: Pick<ServiceDeps, 'rateLimits'>, actor: Membership) =>
  deps.rateLimits.consume('taskStart', actor.userId);

/** The 412 for an organization whose tasks queued or running already fill its plan's limit. */
export function concurrencyRefusal(
  deps: Pick<ServiceDeps, 'config'>,
  ent: Entitlements,
  organizationId: string,
) {
  const limit = ent.concurrentTasks;
  const raise = !deps.config.stripe
    ? ' Billing is not configured on this server, so every organization is on Free: its operator can raise PLAN_FREE_CONCURRENT_TASKS.'
    : ent.concurrentTasks < deps.config.plans.pro.concurrentTasks
      ? ` An organization ADMIN can upgrade to Pro (${deps.config.plans.pro.concurrentTasks} at once) with POST /api/organizations/${organizationId}/billing/checkout.`
      : '';
  return preconditionFailed(
    `The ${ent.plan.name} plan of this organization allows ${limit} tasks queued or running at once, and ${limit} are. Wait for one to finish, or cancel one with POST /api/tasks/{taskId}/cancel.${raise}`,
  );
}
