// Entry points for transports that are not tRPC (plain SSE and websocket routes in the server):
// the same gates as the tasks.events subscription, then the process's shared fan-out.
import { notFound } from '@woopdi/core';
import type { Db } from '@woopdi/db';
import { LRUCache } from 'lru-cache';
import type { Context } from './context.js';
import { authenticate } from './middleware/auth.js';
import { findMembership } from './middleware/membership.js';
import { openTaskEvents } from './services/task-stream.js';
import { taskOrganization } from './services/tasks.js';

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

// A task never changes organization: thousands of sockets following one task ask the database once.
const organizations = new WeakMap<Db, LRUCache<string, string>>();

async function organizationOf(ctx: Context, taskId: string): Promise<string | undefined> {
  let cache = organizations.get(ctx.db);
  if (!cache) {
    cache = new LRUCache<string, string>({ max: 10_000 });
    organizations.set(ctx.db, cache);
  }
  const known = cache.get(taskId);
  if (known) return known;
  const organizationId = await taskOrganization(ctx, taskId);
  if (organizationId) cache.set(taskId, organizationId);
  return organizationId;
}

/**
 * Authenticates the caller and checks they are a member of the task's organization: the scope of
 * their stream. 401 without a valid token, 404 for a task they cannot see.
 */
export async function authorizeTaskStream(ctx: Context, taskId: string) {
  const session = await authenticate(ctx);
  const organizationId = /^[0-9a-f-]{36}$/i.test(taskId) ? await organizationOf(ctx, taskId) : undefined;
  const membership = organizationId ? await findMembership(ctx, session.userId, organizationId) : undefined;
  if (!organizationId || !membership) throw notFound('Task');
  return { taskId, organizationId, userId: session.userId, familyId: session.familyId };
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
