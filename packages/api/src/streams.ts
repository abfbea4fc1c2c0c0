// Entry points for transports that are not tRPC (plain SSE and websocket routes in the server):
// the same gates as the tasks.events subscription, then the same stream.
import { notFound } from '@woopdi/core';
import type { Context } from './context.js';
import { authenticate } from './middleware/auth.js';
import { findMembership } from './middleware/membership.js';
import { openTaskEvents } from './services/task-stream.js';
import { taskOrganization } from './services/tasks.js';

/** Authenticates the caller, checks they are a member of the task's organization, opens the stream. */
export async function openTaskStream(
  ctx: Context,
  taskId: string,
  lastEventId: number,
  signal?: AbortSignal,
) {
  const session = await authenticate(ctx);
  const organizationId = /^[0-9a-f-]{36}$/i.test(taskId) ? await taskOrganization(ctx, taskId) : undefined;
  const membership = organizationId ? await findMembership(ctx, session.userId, organizationId) : undefined;
  if (!organizationId || !membership) throw notFound('Task');
  return openTaskEvents(
    ctx,
    { taskId, organizationId, userId: session.userId, familyId: session.familyId },
    lastEventId,
    signal,
  );
}
