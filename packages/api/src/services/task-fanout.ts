// The shared fan-out of task events in one api process (DESIGN §6): one bus subscription per
// followed task, shared by every stream following it (plain websocket, SSE, tRPC), and one per
// followed user for access loss. Each event is parsed once, serialised once per transport (JSON
// bytes for websockets, the SSE frame) and handed to every follower in order.
//
// A task's feed keeps the events it has dispatched (and, loaded once on demand, the ones before),
// contiguous by seq: a live event that reveals a gap (a lost publish) is read back from task_events
// once for the whole feed, not per socket, and a slow safety check re-reads the table when the bus
// stays silent, so no follower waits forever on a publish that never came. When the bus reconnects
// (a Redis restart, a dropped subscriber connection) every feed re-reads the table after its last
// seq at once: Postgres is the truth, the bus only wakes streams early. A bus that cannot subscribe
// right now (Redis down) does not hold a stream back: after a short wait the feed serves what the
// table holds, and re-reads when the subscription takes effect.
//
// A task started in this process gets its feed before its job exists (`reserve`): the subscription
// goes out beside the start's rate-limit call and has taken effect before the insert is sent, so
// the feed holds every event from seq 1 and the follower that opens right after the start (the
// usual case) joins it without a SUBSCRIBE or a read of the table. A reservation no follower takes
// is given back after a few seconds; one whose subscription was not ready in time is given back at
// once, and followers open the feed the usual way.
//
// Guarantee, per follower: subscribe first (the feed is subscribed before the follower registers),
// then backfill after lastEventId (from the feed's log or the table), then live events — every seq
// after lastEventId exactly once, in order; the follower ends after the terminal event, or when
// its user loses access to the organization (membership removed, sign-in revoked).
import {
  type BusSubscription,
  type EventBus,
  forbidden,
  isApiKeyFamily,
  isTerminalEvent,
  type Logger,
  metrics,
  readTaskEvents,
  readTaskHead,
  revokes,
  sqlOf,
  type TaskEvent,
  taskChannel,
  type UserEvent,
  userChannel,
} from '@woopdi/core';
import type { Db } from '@woopdi/db';

/** One event as every transport sends it, each serialisation built at most once. */
export interface FeedEntry {
  readonly event: TaskEvent;
  readonly seq: number;
  readonly terminal: boolean;
  /** The event as JSON text (tRPC, and the length of what a websocket frame carries). */
  json(): string;
  /** The JSON as bytes: one Buffer written to every plain websocket. */
  bytes(): Buffer;
  /** The Server-Sent Events frame (`id`, `event`, `data`) as bytes. */
  sseBytes(): Buffer;
}

function entryOf(event: TaskEvent): FeedEntry {
  let json: string | undefined;
  let bytes: Buffer | undefined;
  let sse: Buffer | undefined;
  const entry: FeedEntry = {
    event,
    seq: event.seq,
    terminal: isTerminalEvent(event.type),
    json: () => {
      json ??= JSON.stringify(event);
      return json;
    },
    bytes: () => {
      bytes ??= Buffer.from(entry.json());
      return bytes;
    },
    sseBytes: () => {
      sse ??= Buffer.from(`id: ${event.seq}\nevent: ${event.type}\ndata: ${entry.json()}\n\n`);
      return sse;
    },
  };
  return entry;
}

/** Why a follower's stream ended. */
export type FollowEnd =
  /** After the terminal event (or the follower had already seen it). */
  | { kind: 'finished' }
  /** The user lost access to the organization: the stream must not resume. */
  | { kind: 'access-lost'; error: Error }
  /** The bus failed or the server is stopping: reconnect with the last event id to resume. */
  | { kind: 'interrupted'; error?: unknown };

/** Where a follower's events go. Called synchronously by the feed; must not throw. */
export interface FollowerSink {
  /** Every event after the follower's lastEventId, once, in order. */
  deliver(entry: FeedEntry): void;
  /** Called once, last; after it nothing more is delivered. */
  end(reason: FollowEnd): void;
}

export interface TaskStreamScope {
  taskId: string;
  organizationId: string;
  userId: string;
  /** The subscriber's sign-in: revoking it ends the stream. */
  familyId: string;
}

/** A stream whose subscriptions are ready, not yet attached to its transport. */
export interface PendingFollow {
  /** The task has ended and the follower has already seen its last event: nothing will come. */
  readonly complete: boolean;
  /** Starts delivering (backfill first, synchronously when the feed's log holds it). */
  attach(sink: FollowerSink): Follow;
  /** Gives the subscriptions back without attaching (the client went away, the upgrade failed). */
  cancel(): void;
}

export interface Follow {
  /** Stops delivery (the socket went away or was dropped). No sink call follows. Idempotent. */
  close(): void;
}

export interface FanoutStats {
  /** Bus subscriptions held for task channels: one per followed (or reserved) task. */
  taskSubscriptions: number;
  /** Feeds reserved for tasks started here that no follower has opened yet. */
  reserved: number;
  /** Bus subscriptions held for user channels (access loss): one per followed user. */
  userSubscriptions: number;
  /** Followers attached, over all tasks. */
  followers: number;
}

export interface TaskFanout {
  /** Subscribes (or joins the task's and the user's shared subscriptions), ready to attach. */
  open(scope: TaskStreamScope, lastEventId: number): Promise<PendingFollow>;
  /**
   * A feed for a task about to be created (its id chosen, its insert not yet sent): subscribes now.
   * Undefined when the task already has a feed or too many reservations are open.
   */
  reserve(taskId: string): FeedReservation | undefined;
  stats(): FanoutStats;
}

/** A feed subscribed before its task exists, so it holds every event the task will have. */
export interface FeedReservation {
  /**
   * Call just before the task's insert is sent. True when the subscription has taken effect (waiting
   * at most reserveWaitMs for it): the feed then serves the task's first follower. False, and the
   * reservation is given back, when it has not: the task's followers open a feed the usual way.
   */
  seal(): Promise<boolean>;
  /** The task was not created: the subscription is given back at once. Idempotent. */
  cancel(): void;
}

export interface FanoutOptions {
  /** How often a feed with followers re-reads the task when the bus brought nothing; default 5 s. */
  safetyCheckMs?: number;
  /**
   * How long a user's access subscription outlives that user's last stream (default 10 s): a user
   * following one task after another keeps one subscription instead of one per task.
   */
  watchLingerMs?: number;
  /**
   * Recent events a feed keeps for followers that join later, at most this many (default 512) and
   * this many bytes of JSON (default 1 MiB); older ones are read from the table.
   */
  logSize?: number;
  logBytes?: number;
  /**
   * How long opening a feed waits for its bus subscription before serving the table anyway
   * (default 1 s): with Redis down a stream still gets its backfill, then converges when it is back.
   */
  busWaitMs?: number;
  /**
   * How long a read of the table may take before the feed gives up on it (default 10 s): a read that
   * never answers (after a database restart a first query can be left unanswered) must not hold a
   * feed, and every follower waiting on it, forever. The followers are told to reconnect (or the
   * stream is refused with 503), and the next read starts afresh.
   */
  readTimeoutMs?: number;
  /** How long a reserved feed waits for its first follower before it is given back (default 3 s). */
  reserveLingerMs?: number;
  /** Reservations open at once, at most (default 1,000); a start beyond it reserves nothing. */
  maxReserved?: number;
  /** How long sealing a reservation waits for its subscription (default 50 ms; it was sent earlier). */
  reserveWaitMs?: number;
  /** The JSON bytes a reserved feed's log keeps until a follower takes it (default 64 KiB). */
  reservedLogBytes?: number;
}

interface FollowerState {
  readonly scope: TaskStreamScope;
  readonly feed: Feed;
  sink: FollowerSink | undefined;
  /** The seq of the last event this follower has been given (or its lastEventId). */
  sent: number;
  /** Live events that arrived while this follower's backfill was read from the table. */
  pending: FeedEntry[] | undefined;
  done: boolean;
  /** Leaves the feed and the access watch and gives their references back (once). */
  detach(): void;
}

interface Feed {
  readonly taskId: string;
  refs: number;
  followers: Set<FollowerState>;
  ready: Promise<void>;
  /** The seq of the newest event dispatched (or stored when the feed started): the feed's position. */
  lastSeq: number;
  /** Dispatched events, contiguous, log[0].seq === logStart. */
  log: FeedEntry[];
  logStart: number;
  /** The JSON bytes the log holds. */
  logBytes: number;
  /** The task ended (its terminal event is dispatched or was stored when the feed started). */
  finished: boolean;
  /** The feed's first read of the task row is done: lastSeq and the log are its position. */
  started: boolean;
  subscription: BusSubscription<TaskEvent> | undefined;
  prefix: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** A read of the table is in flight (gap or safety check); the next one waits for it. */
  reading: Promise<void> | undefined;
  /** The feed failed (bus error): it delivers nothing more, and a new follower gets a new feed. */
  dead: boolean;
  /** Reserved by a start in this process and not yet taken by a follower: one of `refs` is its. */
  reserved: boolean;
  /** Gives an untaken reservation back. */
  linger: NodeJS.Timeout | undefined;
}

interface Watch {
  refs: number;
  followers: Set<FollowerState>;
  ready: Promise<void>;
  subscription: BusSubscription<UserEvent>;
  /** Set while nobody uses the watch: it closes when this fires. */
  linger: NodeJS.Timeout | undefined;
}

const fanouts = new WeakMap<EventBus, TaskFanout>();

/**
 * The fan-out of this bus if this process has one (it serves task streams), else undefined: a start
 * reserves a feed only where its followers would open it.
 */
export const existingTaskFanout = (bus: EventBus): TaskFanout | undefined => fanouts.get(bus);

/** The fan-out of this process's bus (one per bus: per api process in production). */
export function getTaskFanout(
  deps: { db: Db; bus: EventBus; logger?: Logger },
  options: FanoutOptions = {},
): TaskFanout {
  let fanout = fanouts.get(deps.bus);
  if (!fanout) {
    fanout = createTaskFanout(deps, options);
    fanouts.set(deps.bus, fanout);
  }
  return fanout;
}

export function createTaskFanout(
  deps: { db: Db; bus: EventBus; logger?: Logger },
  options: FanoutOptions = {},
): TaskFanout {
  const safetyCheckMs = options.safetyCheckMs ?? 5_000;
  const logSize = options.logSize ?? 512;
  const logBytes = options.logBytes ?? 1024 * 1024;
  const watchLingerMs = options.watchLingerMs ?? 10_000;
  const busWaitMs = options.busWaitMs ?? 1_000;
  const readTimeoutMs = options.readTimeoutMs ?? 10_000;
  const reserveLingerMs = options.reserveLingerMs ?? 3_000;
  const maxReserved = options.maxReserved ?? 1_000;
  const reserveWaitMs = options.reserveWaitMs ?? 50;
  const reservedLogBytes = Math.min(logBytes, options.reservedLogBytes ?? 64 * 1024);
  // A feed starts with the task's events when it has at most this many (one statement either way).
  const headEvents = Math.min(logSize, 32);
  const feeds = new Map<string, Feed>();
  const watches = new Map<string, Watch>();
  let followerCount = 0;
  let subscriptionCount = 0;
  let reservedCount = 0;

  // The bus (re)connected: whatever it carried meanwhile may be lost. One read per followed task.
  deps.bus.onReconnect?.(() => {
    metrics.busReconnects.inc();
    for (const feed of feeds.values()) {
      if (feed.started && !feed.finished && !feed.dead) void readBack(feed).catch(() => undefined);
    }
  });

  /** The read, or after readTimeoutMs a rejection that says the database did not answer (503). */
  async function bounded<T>(read: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`the database did not answer a task event read within ${readTimeoutMs} ms`);
        reject(Object.assign(error, { code: 'ETIMEDOUT' }));
      }, readTimeoutMs);
      timer.unref();
    });
    // An abandoned read that fails later has no one waiting for it.
    read.catch(() => undefined);
    try {
      return await Promise.race([read, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `ready`, or after `waitMs` whatever it is by then; true when it resolved in time. */
  async function readyWithin(ready: Promise<void>, waitMs = busWaitMs): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
      timer.unref();
    });
    const inTime = ready.then(() => true as const);
    // A rejection after the wait is handled by the subscription itself (it closes).
    inTime.catch(() => undefined);
    try {
      return await Promise.race([inTime, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  // --- task feeds ------------------------------------------------------------------------------

  function acquireFeed(taskId: string): Feed {
    const existing = feeds.get(taskId);
    if (existing) {
      // A reserved feed's reference passes to its first holder.
      if (existing.reserved) unreserve(existing);
      else existing.refs++;
      return existing;
    }
    const feed = newFeed(taskId);
    const subscription = subscribeFeed(feed);
    feed.ready = (async () => {
      const subscribed = await readyWithin(subscription.ready);
      // Read after subscribing: every event up to last_seq is stored; every later one is published
      // after this read, so it reaches the subscription (or a gap read, or the safety check).
      // A young task's events come with it, into the log: its followers' backfill needs no read.
      const task = await bounded(readTaskHead(deps.db, taskId, headEvents));
      feed.lastSeq = task?.lastSeq ?? 0;
      feed.logStart = feed.lastSeq + 1;
      if (task?.events && task.events.length === feed.lastSeq) {
        feed.log = task.events.map(entryOf);
        feed.logStart = 1;
        for (const entry of feed.log) feed.logBytes += entry.json().length;
        trimLog(feed);
      }
      feed.started = true;
      if (!task || task.status === 'succeeded' || task.status === 'failed' || task.status === 'cancelled') {
        feed.finished = true;
        unsubscribe(feed);
        return;
      }
      if (!subscribed) {
        // Not subscribed when the task was read: what was published before the subscription took
        // effect never reaches it, so read the table again once it does.
        subscription.ready.then(
          () => {
            if (!feed.finished && !feed.dead) void readBack(feed).catch(() => undefined);
          },
          () => undefined,
        );
      }
      run(feed, subscription);
    })();
    feed.ready.catch(() => dropFeed(feed));
    return feed;
  }

  function newFeed(taskId: string): Feed {
    const feed: Feed = {
      taskId,
      refs: 1,
      followers: new Set(),
      ready: Promise.resolve(),
      lastSeq: 0,
      log: [],
      logStart: 1,
      logBytes: 0,
      finished: false,
      started: false,
      subscription: undefined,
      prefix: undefined,
      timer: undefined,
      reading: undefined,
      dead: false,
      reserved: false,
      linger: undefined,
    };
    feeds.set(taskId, feed);
    return feed;
  }

  function subscribeFeed(feed: Feed): BusSubscription<TaskEvent> {
    const subscription = deps.bus.subscribe<TaskEvent>(taskChannel(feed.taskId));
    feed.subscription = subscription;
    subscriptionCount++;
    metrics.taskStreamSubscriptions.inc();
    return subscription;
  }

  /** A started feed receives: live events in order, and the safety check while it runs. */
  function run(feed: Feed, subscription: BusSubscription<TaskEvent>) {
    void consume(feed, subscription);
    feed.timer = setInterval(() => void catchUp(feed), safetyCheckMs);
    feed.timer.unref();
  }

  /** The reservation ends; its reference stays with whoever takes it (see acquireFeed). */
  function unreserve(feed: Feed) {
    feed.reserved = false;
    reservedCount--;
    clearTimeout(feed.linger);
    feed.linger = undefined;
  }

  function reserve(taskId: string): FeedReservation | undefined {
    if (feeds.has(taskId) || reservedCount >= maxReserved) return undefined;
    const feed = newFeed(taskId);
    feed.reserved = true;
    reservedCount++;
    // The task does not exist yet: position 0 is its whole history.
    feed.started = true;
    const subscription = subscribeFeed(feed);
    let subscribed = false;
    subscription.ready.then(
      () => {
        subscribed = true;
      },
      () => undefined,
    );
    let sealed: () => void = () => undefined;
    // A holder that joins before the seal (it cannot know the id yet, but) waits for it.
    feed.ready = new Promise<void>((resolve) => {
      sealed = resolve;
    });
    const giveBack = () => {
      if (!feed.reserved) return;
      unreserve(feed);
      releaseFeed(feed);
    };
    return {
      async seal() {
        const ok = subscribed || (await readyWithin(subscription.ready, reserveWaitMs).catch(() => false));
        if (!ok || feed.dead) {
          // Events published before the subscription took effect would be missing from the log.
          if (feed.reserved) unreserve(feed);
          interrupt(feed);
          sealed();
          return false;
        }
        run(feed, subscription);
        if (feed.reserved) {
          feed.linger = setTimeout(giveBack, reserveLingerMs);
          feed.linger.unref();
        }
        sealed();
        return true;
      },
      cancel() {
        giveBack();
        sealed();
      },
    };
  }

  function unsubscribe(feed: Feed) {
    clearInterval(feed.timer);
    feed.timer = undefined;
    if (!feed.subscription) return;
    feed.subscription.close();
    feed.subscription = undefined;
    subscriptionCount--;
    metrics.taskStreamSubscriptions.dec();
  }

  /** One holder (a pending or attached follower) is done with the feed; the last one closes it. */
  function releaseFeed(feed: Feed) {
    feed.refs--;
    if (feed.refs <= 0) dropFeed(feed);
  }

  /** Takes the feed out of service: its subscription is released, a new follower gets a new feed. */
  function dropFeed(feed: Feed) {
    if (feeds.get(feed.taskId) === feed) feeds.delete(feed.taskId);
    unsubscribe(feed);
  }

  /** Live events from the bus, in seq order; a gap is read back from the table first. */
  async function consume(feed: Feed, subscription: BusSubscription<TaskEvent>) {
    try {
      for await (const event of subscription) {
        if (event.seq <= feed.lastSeq) continue;
        metrics.busLag.observe(Math.max(0, Date.now() - Date.parse(event.at)) / 1000);
        if (event.seq > feed.lastSeq + 1) await readBack(feed);
        dispatchRun(feed, [event]);
        if (feed.finished) return;
      }
    } catch (error) {
      if (!feed.finished) interrupt(feed, error);
      return;
    }
    // The subscription ended without the terminal event: the bus closed (shutdown) or dropped us.
    if (!feed.finished && feed.subscription === subscription) interrupt(feed);
  }

  /** Reads everything after the feed's position from the table (one read at a time per feed). */
  function readBack(feed: Feed): Promise<void> {
    const next = (feed.reading ?? Promise.resolve()).then(async () => {
      if (!feed.finished)
        dispatchRun(feed, await bounded(readTaskEvents(deps.db, feed.taskId, feed.lastSeq)));
    });
    const tracked = next.catch(() => undefined);
    feed.reading = tracked;
    void tracked.then(() => {
      if (feed.reading === tracked) feed.reading = undefined;
    });
    return next;
  }

  /** The safety check: cheap (one indexed read of the task row), and only when the feed is behind. */
  async function catchUp(feed: Feed) {
    if (feed.finished || feed.reading) return;
    try {
      const [task] = await bounded(sqlOf(deps.db)<{ lastSeq: number }[]>`
        select last_seq as "lastSeq" from tasks where id = ${feed.taskId}::uuid`);
      if (task && task.lastSeq > feed.lastSeq) await readBack(feed);
    } catch (error) {
      deps.logger?.warn({ err: error, taskId: feed.taskId }, 'task stream safety check failed');
    }
  }

  /** Dispatches the events that continue the feed exactly (seq = lastSeq + 1, …); skips the rest. */
  function dispatchRun(feed: Feed, events: TaskEvent[]) {
    for (const event of events) {
      if (feed.finished) return;
      if (event.seq <= feed.lastSeq) continue;
      if (event.seq !== feed.lastSeq + 1) return;
      dispatch(feed, entryOf(event));
    }
  }

  function dispatch(feed: Feed, entry: FeedEntry) {
    feed.lastSeq = entry.seq;
    feed.log.push(entry);
    feed.logBytes += entry.json().length;
    trimLog(feed);
    if (entry.terminal) {
      feed.finished = true;
      // Nothing is ever appended after a terminal event: the channel has nothing more to say.
      unsubscribe(feed);
    }
    // The terminal event reaches every follower before any is ended: ending one (its close frame,
    // its references given back) is work the next socket's last event would wait behind.
    const ending: FollowerState[] | undefined = entry.terminal ? [] : undefined;
    for (const follower of feed.followers) {
      if (follower.pending) follower.pending.push(entry);
      else give(feed, follower, entry, ending);
    }
    if (ending) for (const follower of ending) endFollower(follower, { kind: 'finished' });
  }

  /** Keeps the log within its bounds (at least the newest entry). */
  function trimLog(feed: Feed) {
    // Until a follower takes it, a reserved feed keeps less: what it drops is read back on demand.
    const maxBytes = feed.reserved ? reservedLogBytes : logBytes;
    let drop = 0;
    while (drop < feed.log.length - 1 && (feed.log.length - drop > logSize || feed.logBytes > maxBytes)) {
      feed.logBytes -= feed.log[drop]!.json().length;
      drop++;
    }
    if (drop === 0) return;
    feed.log.splice(0, drop);
    feed.logStart += drop;
    feed.prefix = undefined;
  }

  /** Hands one entry to a follower, ending it after the terminal event (or adding it to `ending`). */
  function give(feed: Feed, follower: FollowerState, entry: FeedEntry, ending?: FollowerState[]) {
    if (follower.done) return;
    if (entry.seq <= follower.sent) {
      // A lastEventId beyond the task's real last event must not wait forever.
      if (entry.terminal) endFollower(follower, { kind: 'finished' });
      return;
    }
    follower.sent = entry.seq;
    try {
      follower.sink?.deliver(entry);
    } catch (error) {
      deps.logger?.error({ err: error, taskId: feed.taskId }, 'task stream sink failed');
      endFollower(follower, { kind: 'interrupted', error });
      return;
    }
    if (!entry.terminal) return;
    if (ending) ending.push(follower);
    else endFollower(follower, { kind: 'finished' });
  }

  function interrupt(feed: Feed, error?: unknown) {
    if (error) deps.logger?.warn({ err: error, taskId: feed.taskId }, 'task event feed interrupted');
    feed.dead = true;
    dropFeed(feed);
    for (const follower of [...feed.followers]) endFollower(follower, { kind: 'interrupted', error });
  }

  /** Events (after, through] from the feed's log, loading what precedes it from the table. */
  async function history(feed: Feed, after: number, through: number): Promise<FeedEntry[]> {
    const out: FeedEntry[] = [];
    let from = after;
    let triedPrefix = false;
    while (from < through) {
      if (from + 1 >= feed.logStart) {
        out.push(...feed.log.slice(from + 1 - feed.logStart, through + 1 - feed.logStart));
        return out;
      }
      if (!triedPrefix && feed.logStart - 1 <= logSize) {
        // Many followers joining a running task share one read of its beginning.
        triedPrefix = true;
        feed.prefix ??= loadPrefix(feed);
        await feed.prefix;
        continue;
      }
      const read = await bounded(
        readTaskEvents(deps.db, feed.taskId, from, Math.min(through, feed.logStart - 1)),
      );
      if (read.length === 0) break;
      out.push(...read.map(entryOf));
      from = read.at(-1)!.seq;
    }
    return out;
  }

  async function loadPrefix(feed: Feed) {
    const end = feed.logStart - 1;
    const older = await bounded(readTaskEvents(deps.db, feed.taskId, 0, end));
    if (feed.logStart !== end + 1 || older.length !== end) return;
    const entries = older.map(entryOf);
    feed.log = [...entries, ...feed.log];
    feed.logStart = 1;
    for (const entry of entries) feed.logBytes += entry.json().length;
    // Not trimmed now: the followers waiting for this prefix slice it first.
  }

  // --- access: one user-channel subscription per followed user ---------------------------------

  function acquireWatch(userId: string): Watch {
    const existing = watches.get(userId);
    if (existing) {
      existing.refs++;
      clearTimeout(existing.linger);
      existing.linger = undefined;
      return existing;
    }
    const subscription = deps.bus.subscribe<UserEvent>(userChannel(userId));
    const watch: Watch = {
      refs: 1,
      followers: new Set(),
      ready: subscription.ready,
      subscription,
      linger: undefined,
    };
    watches.set(userId, watch);
    void (async () => {
      for await (const event of subscription) {
        for (const follower of [...watch.followers]) {
          const { organizationId, familyId } = follower.scope;
          if (
            (event.type === 'membership.removed' && event.organizationId === organizationId) ||
            revokes(event, familyId)
          ) {
            const error = forbidden(
              isApiKeyFamily(familyId)
                ? 'This API key was revoked: create a new one.'
                : 'You no longer have access to this organization.',
            );
            endFollower(follower, { kind: 'access-lost', error });
          }
        }
      }
    })()
      .catch(() => undefined)
      .then(() => {
        // Without this subscription access loss would go unseen: its streams must reconnect.
        if (watches.get(userId) !== watch) return;
        watches.delete(userId);
        for (const follower of [...watch.followers]) endFollower(follower, { kind: 'interrupted' });
      });
    return watch;
  }

  function releaseWatch(userId: string, watch: Watch) {
    watch.refs--;
    if (watch.refs > 0 || watches.get(userId) !== watch) return;
    const close = () => {
      if (watch.refs > 0 || watches.get(userId) !== watch) return;
      watches.delete(userId);
      watch.subscription.close();
    };
    if (watchLingerMs <= 0) return close();
    clearTimeout(watch.linger);
    watch.linger = setTimeout(close, watchLingerMs);
    watch.linger.unref();
  }

  // --- followers -------------------------------------------------------------------------------

  /** Ends a follower: it leaves the feed, then its sink hears why (once, last). */
  function endFollower(follower: FollowerState, reason: FollowEnd) {
    if (follower.done) return;
    const sink = follower.sink;
    follower.detach();
    try {
      sink?.end(reason);
    } catch (error) {
      deps.logger?.error({ err: error }, 'task stream sink failed to end');
    }
  }

  async function open(scope: TaskStreamScope, lastEventId: number): Promise<PendingFollow> {
    const feed = acquireFeed(scope.taskId);
    const watch = acquireWatch(scope.userId);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      releaseFeed(feed);
      releaseWatch(scope.userId, watch);
    };
    try {
      // Access loss is only heard once the watch is subscribed; a bus that cannot subscribe now
      // (Redis down) does not hold the stream back: membership is checked when it is opened.
      await Promise.all([feed.ready, readyWithin(watch.ready)]);
    } catch (error) {
      release();
      throw error;
    }
    return {
      complete: feed.finished && lastEventId >= feed.lastSeq,
      cancel: release,
      attach(sink) {
        const follower: FollowerState = {
          scope,
          feed,
          sink,
          sent: lastEventId,
          pending: undefined,
          done: false,
          detach() {
            if (follower.done) return;
            follower.done = true;
            follower.sink = undefined;
            follower.pending = undefined;
            feed.followers.delete(follower);
            watch.followers.delete(follower);
            followerCount--;
            metrics.taskStreamFollowers.dec();
            release();
          },
        };
        followerCount++;
        metrics.taskStreamFollowers.inc();
        if (released || feed.dead) {
          // Cancelled, or the feed failed while the transport was being set up: reconnect.
          endFollower(follower, { kind: 'interrupted' });
          return { close: () => undefined };
        }
        watch.followers.add(follower);
        feed.followers.add(follower);
        backfill(feed, follower);
        return { close: () => follower.detach() };
      },
    };
  }

  /** Delivers (sent, lastSeq] before anything live, synchronously when the log holds it. */
  function backfill(feed: Feed, follower: FollowerState) {
    const through = feed.lastSeq;
    if (follower.sent >= through) {
      if (feed.finished) endFollower(follower, { kind: 'finished' });
      return;
    }
    if (follower.sent + 1 >= feed.logStart) {
      for (const entry of feed.log.slice(follower.sent + 1 - feed.logStart, through + 1 - feed.logStart)) {
        give(feed, follower, entry);
        if (follower.done) return;
      }
      return;
    }
    follower.pending = [];
    history(feed, follower.sent, through).then(
      (entries) => {
        if (follower.done) return;
        const pending = follower.pending ?? [];
        follower.pending = undefined;
        for (const entry of [...entries, ...pending]) {
          give(feed, follower, entry);
          if (follower.done) return;
        }
      },
      (error: unknown) => {
        deps.logger?.warn({ err: error, taskId: feed.taskId }, 'task stream backfill failed');
        endFollower(follower, { kind: 'interrupted', error });
      },
    );
  }

  return {
    open,
    reserve,
    stats: () => ({
      taskSubscriptions: subscriptionCount,
      reserved: reservedCount,
      userSubscriptions: watches.size,
      followers: followerCount,
    }),
  };
}
