// A task's events as an async generator, for tRPC's tasks.events subscription (over websocket and
// SSE): a follower of the process's shared fan-out (task-fanout.ts) with a small queue between the
// fan-out, which pushes, and the transport, which pulls.
import { metrics, type TaskEvent } from '@woopdi/core';
import type { ServiceDeps } from './deps.js';
import {
  type FeedEntry,
  type Follow,
  type FollowEnd,
  getTaskFanout,
  type TaskStreamScope,
} from './task-fanout.js';

export type { TaskStreamScope } from './task-fanout.js';

/**
 * A task's events for a member: every event after `lastEventId` exactly once, in order, then live
 * ones, ending after the terminal event — or failing with FORBIDDEN when the member loses access to
 * the organization. It also ends (without the terminal event) when the consumer falls more than
 * STREAM_MAX_BUFFERED_BYTES behind or the bus fails: the client resumes from its last event id
 * (tRPC's links and the SDK do).
 */
export async function openTaskEvents(
  deps: ServiceDeps,
  scope: TaskStreamScope,
  lastEventId: number,
  signal: AbortSignal | undefined,
): Promise<AsyncGenerator<TaskEvent>> {
  const pending = await getTaskFanout(deps).open(scope, lastEventId);
  const maxBytes = deps.config.streamMaxBufferedBytes;
  const queue: FeedEntry[] = [];
  let head = 0;
  let queuedBytes = 0;
  let ended: FollowEnd | undefined;
  let attached = false;
  let tooSlow = false;
  let wake: (() => void) | undefined;
  let follow: Follow | undefined;

  const stop = () => {
    follow?.close();
    ended ??= { kind: 'interrupted' };
    wake?.();
  };
  follow = pending.attach({
    deliver(entry) {
      queue.push(entry);
      queuedBytes += entry.json().length;
      // The backfill is queued at once by design; only a consumer that stops pulling live events is cut.
      if (attached && queuedBytes > maxBytes && !tooSlow) {
        tooSlow = true;
        metrics.slowStreamDrops.inc({ transport: 'trpc' });
        queueMicrotask(stop);
      }
      wake?.();
    },
    end(reason) {
      ended = reason;
      wake?.();
    },
  });
  attached = true;
  if (signal?.aborted) stop();
  else signal?.addEventListener('abort', stop, { once: true });

  return (async function* () {
    try {
      while (true) {
        if (head < queue.length) {
          const entry = queue[head++]!;
          queuedBytes -= entry.json().length;
          if (head > 1024) {
            queue.splice(0, head);
            head = 0;
          }
          yield entry.event;
          continue;
        }
        if (ended) {
          if (ended.kind === 'access-lost') throw ended.error;
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      follow?.close();
    }
  })();
}
