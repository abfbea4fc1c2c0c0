// Entry points for transports that are not tRPC (plain SSE and websocket routes in the server):
// the same gates as the tasks.events subscription, then the process's shared fan-out.
import { notFound } from '@woopdi/core';
import type { Context } from './context.js';
import { authenticate } from './middleware/auth.js';
import { logImpersonation } from './middleware/impersonation.js';
import { assertTwoFactorPolicy, hasOrgRole, membershipOf } from './middleware/membership.js';
import { type TaskScope, taskScopeCache } from './services/task-scopes.js';
import { openTaskEvents } from './services/task-stream.js';
import { taskScope } from './services/tasks.js';

export {
  type FanoutStats,
  type FeedEntry,
  type Follow,
  type FollowEnd,
  type FollowerSink,
  getTaskFanout,
  type PendingFollow,
  type TaskFanout,
  type TaskStreamScope,
} from './services/task-fanout.js';

async function scopeOf(ctx: Context, taskId: string): Promise<TaskScope | undefined> {
  const cache = taskScopeCache(ctx.db);
  const known = cache.get(taskId);
  if (known) return known;
  const scope = await taskScope(ctx, taskId);
  if (scope) cache.set(taskId, scope);
  return scope;
}

/**
 * Authenticates the caller and checks they are a member of the task's organization: the scope of
 * their stream. 401 without a valid token, 404 for a task they cannot see.
 */
export async function authorizeTaskStream(ctx: Context, taskId: string) {
  const session = await authenticate(ctx);
  logImpersonation(ctx, session); // a stream only reads: a read-only support session may follow it
  const scope = /^[0-9a-f-]{36}$/i.test(taskId) ? await scopeOf(ctx, taskId) : undefined;
  const membership = scope ? await membershipOf(ctx, session, scope.organizationId) : undefined;
  // Below the role of the task's kind (an org_export to a MEMBER), it is hidden like another's.
  if (!scope || !membership || !hasOrgRole(membership.role, scope.minRole)) throw notFound('Task');
  assertTwoFactorPolicy(membership);
  return { taskId, organizationId: scope.organizationId, userId: session.userId, familyId: session.familyId };
}

/** authorizeTaskStream, then the task's events as an async generator (see openTaskEvents). */
export async function openTaskStream(
  ctx: Context,
  taskId: string,
  lastEventId: number,
  signal?: AbortSignal,
) {
  return openTaskEvents(ctx, await authorizeTaskStream(ctx, taskId), lastEventId, signal);
}
