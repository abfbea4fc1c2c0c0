import {
  type BusSubscription,
  forbidden,
  isTerminalEvent,
  metrics,
  readTaskEvents,
  revokes,
  type TaskEvent,
  taskChannel,
  type UserEvent,
  userChannel,
} from '@woopdi/core';
import { tasks } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import type { ServiceDeps } from './deps.js';

export interface TaskStreamScope {
  taskId: string;
  organizationId: string;
  userId: string;
  /** The subscriber's sign-in: revoking it ends the stream. */
  familyId: string;
}

/**
 * A task's events for a member: every event after `lastEventId` exactly once, in order, then live
 * ones, ending after the terminal event — or when the member loses access to the organization.
 *
 * Subscribes to the bus first, then backfills from task_events, then streams, skipping seqs already
 * sent and reading any gap back from the table: a late or reconnecting subscriber misses nothing.
 */
export async function openTaskEvents(
  deps: ServiceDeps,
  scope: TaskStreamScope,
  lastEventId: number,
  signal: AbortSignal | undefined,
): Promise<AsyncGenerator<TaskEvent>> {
  const live = deps.bus.subscribe<TaskEvent>(taskChannel(scope.taskId), { signal });
  const access = deps.bus.subscribe<UserEvent>(userChannel(scope.userId), { signal });
  await Promise.all([live.ready, access.ready]);
  const access$ = watchAccess(access, scope, live);

  return (async function* () {
    let sent = lastEventId;
    try {
      // Read before the backfill: once a task has finished, every one of its events is stored.
      const finished = await hasFinished(deps, scope.taskId);
      for (const event of await readTaskEvents(deps.db, scope.taskId, sent)) {
        yield event;
        sent = event.seq;
        if (isTerminalEvent(event.type)) return;
      }
      // Already past the terminal event (an EventSource reconnecting after the end): nothing will come.
      if (finished) return;
      for await (const event of live) {
        metrics.busLag.observe(Math.max(0, Date.now() - Date.parse(event.at)) / 1000);
        if (event.seq <= sent) {
          // A lastEventId beyond the task's real last event must not wait forever.
          if (isTerminalEvent(event.type)) return;
          continue;
        }
        const batch = event.seq === sent + 1 ? [event] : await readTaskEvents(deps.db, scope.taskId, sent);
        for (const e of batch) {
          if (e.seq <= sent) continue;
          yield e;
          sent = e.seq;
          if (isTerminalEvent(e.type)) return;
        }
      }
      if (access$.lost) throw forbidden('You no longer have access to this organization.');
    } finally {
      live.close();
      access.close();
    }
  })();
}

async function hasFinished(deps: ServiceDeps, taskId: string) {
  const [row] = await deps.db.select({ status: tasks.status }).from(tasks).where(eq(tasks.id, taskId));
  return row?.status === 'succeeded' || row?.status === 'failed' || row?.status === 'cancelled';
}

/** Ends the task stream when the member is removed from the organization or signed out. */
function watchAccess(
  access: BusSubscription<UserEvent>,
  scope: TaskStreamScope,
  live: BusSubscription<TaskEvent>,
) {
  const state = { lost: false };
  void (async () => {
    for await (const e of access) {
      if (
        (e.type === 'membership.removed' && e.organizationId === scope.organizationId) ||
        revokes(e, scope.familyId)
      ) {
        state.lost = true;
        live.close();
        return;
      }
    }
  })().catch(() => live.close());
  return state;
}
