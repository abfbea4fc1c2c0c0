// Following a long-running task's live events: every event exactly once, in order, across
// reconnects. tRPC's ws and SSE links already resubscribe with the id of the last event they
// delivered; on top of that `follow` drops anything it has already delivered, reads a gap back from
// the server, and resumes by itself when a stream ends before the task's terminal event.
import type { TRPCClient } from '@trpc/client';
import { isUnauthorized } from './session.js';
import type { AppRouter, RouterOutputs } from './types.js';

type Tracked = RouterOutputs['tasks']['events'] extends AsyncIterable<infer E> ? E : never;

/**
 * One event of a task: `{ taskId, seq, type, message, progress?, current?, total?, data?, at }`.
 * `seq` counts from 1 without gaps; it is the event's id (`lastEventId`).
 */
export type TaskEvent = Tracked extends { data: infer D } ? D : never;
export type TaskEventType = TaskEvent['type'];

export const isTerminalTaskEvent = (event: Pick<TaskEvent, 'type'>) =>
  event.type === 'task_end' || event.type === 'task_error';

export interface FollowOptions {
  /** Every event, once, in order of `seq`. task_end / task_error come last. */
  onEvent(event: TaskEvent): void;
  /**
   * After the terminal event (task_end or task_error, already passed to onEvent). `null` when the
   * task had already finished at or before the given `lastEventId`, so there was nothing to send.
   */
  onComplete?(terminal: TaskEvent | null): void;
  /** The server refused or ended the stream: `error.data.code` is NOT_FOUND, FORBIDDEN (access lost), … */
  onError?(error: unknown): void;
  /** Resume after this event (its `seq`); default: from the first event. */
  lastEventId?: number | string | null | undefined;
}

export interface TaskFollow {
  /** Stops following. No callback runs afterwards. */
  unsubscribe(): void;
  /** The `seq` of the last event delivered (or the starting `lastEventId`): resume from it later. */
  lastEventId(): number;
}

export interface TaskEventsOptions {
  lastEventId?: number | string | null | undefined;
  /** Aborting ends the iteration (the loop simply finishes). */
  signal?: AbortSignal | undefined;
}

export interface TaskEventIterator extends AsyncIterableIterator<TaskEvent> {
  lastEventId(): number;
}

export interface WoopdiTasks {
  /**
   * Follows a task's events until its terminal event:
   * `woopdi.tasks.follow(taskId, { onEvent, onComplete?, onError?, lastEventId? })`.
   */
  follow(taskId: string, options: FollowOptions): TaskFollow;
  /**
   * The same as an async iterator: `for await (const event of woopdi.tasks.events(taskId)) …`. It
   * finishes after the terminal event; it throws what `onError` would get; `break` unsubscribes.
   */
  events(taskId: string, options?: TaskEventsOptions): TaskEventIterator;
}

function startingId(value: number | string | null | undefined): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new TypeError(`lastEventId must be a non-negative integer, got ${String(value)}`);
  return n;
}

/** A stream that ended without its terminal event is reopened after this many ms (doubling, capped). */
const RESUME_DELAY_MS = 250;
const MAX_RESUME_DELAY_MS = 5_000;

interface InternalFollowOptions extends FollowOptions {
  /** The client was closed while following: ends quietly (no onComplete, no onError). */
  onClosed?(): void;
}

export function createTasks(api: TRPCClient<AppRouter>, isClosed: () => boolean): WoopdiTasks {
  function follow(taskId: string, options: InternalFollowOptions): TaskFollow {
    let last = startingId(options.lastEventId);
    let current: { unsubscribe(): void } | null = null;
    /** Bumped by every (re)subscription: callbacks of a replaced one are ignored. */
    let generation = 0;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let resumes = 0;

    const stop = () => {
      done = true;
      generation++;
      clearTimeout(timer);
      const sub = current;
      current = null;
      sub?.unsubscribe();
    };
    const fail = (error: unknown) => {
      if (done) return;
      stop();
      if (options.onError) options.onError(error);
      else reportUnhandled(error);
    };
    const finish = (terminal: TaskEvent | null) => {
      if (done) return;
      stop();
      options.onComplete?.(terminal);
    };
    const closed = () => {
      if (done) return;
      stop();
      options.onClosed?.();
    };

    const open = () => {
      if (done) return;
      if (isClosed()) return closed();
      current?.unsubscribe();
      const mine = ++generation;
      let delivered = false;
      const sub = api.tasks.events.subscribe(
        { taskId, lastEventId: last },
        {
          onData: ({ data: event }) => {
            if (mine !== generation || done) return;
            // Already delivered: a resend after a reconnect.
            if (event.seq <= last) return;
            // A gap (never expected from the server): read the missing events back.
            if (event.seq !== last + 1) return open();
            last = event.seq;
            delivered = true;
            resumes = 0;
            options.onEvent(event);
            if (isTerminalTaskEvent(event)) finish(event);
          },
          onError: (error) => {
            if (mine !== generation || done) return;
            if (isClosed()) return closed();
            // The access token lapsed across a reconnect after events were delivered: the SDK's auth
            // link only retries before the first event, so resubscribe (it refreshes and retries).
            if (delivered && isUnauthorized(error)) return open();
            fail(error);
          },
          onComplete: () => {
            if (mine !== generation || done) return;
            if (isClosed()) return closed();
            // Ended before the terminal event (a server shutting down; a lastEventId at or past the end).
            settle();
          },
        },
      );
      if (mine === generation && !done) current = sub;
      else sub.unsubscribe();
    };

    const settle = () => {
      api.tasks.get.query({ taskId }).then(
        (task) => {
          if (done) return;
          const finished = task.status !== 'queued' && task.status !== 'running';
          if (finished && task.lastEventId <= last) return finish(null);
          if (finished) return open();
          const delay = Math.min(MAX_RESUME_DELAY_MS, RESUME_DELAY_MS * 2 ** resumes++);
          timer = setTimeout(open, delay);
        },
        (error: unknown) => fail(error),
      );
    };

    open();
    return { unsubscribe: stop, lastEventId: () => last };
  }

  function events(taskId: string, options: TaskEventsOptions = {}): TaskEventIterator {
    const queue: TaskEvent[] = [];
    let ended = false;
    let failure: { error: unknown } | null = null;
    let wake: (() => void) | null = null;
    const notify = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const end = () => {
      ended = true;
      notify();
    };
    const handle = follow(taskId, {
      lastEventId: options.lastEventId,
      onEvent: (event) => {
        queue.push(event);
        notify();
      },
      onComplete: end,
      onClosed: end,
      onError: (error) => {
        failure = { error };
        end();
      },
    });
    const onAbort = () => {
      handle.unsubscribe();
      end();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    const finishIteration = (): IteratorReturnResult<undefined> => {
      options.signal?.removeEventListener('abort', onAbort);
      handle.unsubscribe();
      return { done: true, value: undefined };
    };

    const iterator: TaskEventIterator = {
      lastEventId: handle.lastEventId,
      async next() {
        while (true) {
          const event = queue.shift();
          if (event) return { done: false, value: event };
          if (failure) {
            const { error } = failure;
            failure = null;
            finishIteration();
            throw error;
          }
          if (ended) return finishIteration();
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
      async return() {
        queue.length = 0;
        ended = true;
        return finishIteration();
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  return { follow, events };
}

function reportUnhandled(error: unknown) {
  (globalThis as { console?: { error(...args: unknown[]): void } }).console?.error(
    '[@woopdi/sdk] tasks.follow failed (pass onError to handle it):',
    error,
  );
}
