// The event bus: publish(channel, event) / subscribe(channel) as an async iterable. Redis pub/sub
// fans events out across processes in service mode; the in-process bus serves embedded mode. Both
// pass the same contract tests.
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';

export interface BusSubscription<T = unknown> extends AsyncIterable<T> {
  /** Resolves once events published from now on will be delivered (the channel is subscribed). */
  ready: Promise<void>;
  /** Stops delivery and ends the iteration. */
  close(): void;
}

export interface EventBus {
  readonly kind: 'redis' | 'memory';
  publish(channel: string, event: unknown): Promise<void>;
  subscribe<T = unknown>(channel: string, options?: { signal?: AbortSignal }): BusSubscription<T>;
  /** Resolves when the bus answers (readiness checks); the in-process bus always does. */
  ping?(): Promise<void>;
  /**
   * Calls `listener` each time the bus's subscriber connection is (re)established — after a Redis
   * restart, a dropped subscriber connection, or the first connect of a bus created while Redis was
   * down. Messages published while it was away are lost: subscribers re-read their source of truth.
   * When it is called, every current subscription is effective again. Returns an unregister
   * function. The in-process bus never loses messages and never calls it.
   */
  onReconnect?(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Upper bound of undelivered events per subscriber; a consumer that falls further behind is cut off. */
const MAX_BUFFERED = 10_000;

type Listener = (message: string) => void;

/** A queue that turns pushed messages into an async iterator. */
function createSubscription<T>(
  attach: (listener: Listener) => Promise<void>,
  detach: (listener: Listener) => void,
  signal?: AbortSignal,
): BusSubscription<T> {
  const buffer: T[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  let failure: Error | undefined;

  const listener: Listener = (message) => {
    if (closed) return;
    if (buffer.length >= MAX_BUFFERED) {
      failure = new Error(`subscriber fell more than ${MAX_BUFFERED} events behind`);
      close();
      return;
    }
    buffer.push(JSON.parse(message) as T);
    wake?.();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    detach(listener);
    wake?.();
  };
  signal?.addEventListener('abort', close, { once: true });
  const ready = attach(listener);
  ready.catch(() => close());

  return {
    ready,
    close,
    async *[Symbol.asyncIterator]() {
      try {
        await ready;
        while (true) {
          if (buffer.length > 0) {
            yield buffer.shift()!;
            continue;
          }
          if (failure) throw failure;
          if (closed) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        close();
      }
    },
  };
}

export function createMemoryBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    kind: 'memory',
    async publish(channel, event) {
      // Serialised like Redis, so subscribers never share (or mutate) the publisher's object.
      emitter.emit(channel, JSON.stringify(event));
    },
    subscribe(channel, options) {
      return createSubscription(
        async (l) => void emitter.on(channel, l),
        (l) => void emitter.off(channel, l),
        options?.signal,
      );
    },
    async ping() {},
    async close() {
      emitter.removeAllListeners();
    },
  };
}

export interface RedisBusOptions {
  url: string;
  /** Prepended to every channel: separates deployments (and test files) sharing one Redis. */
  prefix?: string;
}

export function createRedisBus(options: RedisBusOptions): EventBus {
  const prefix = options.prefix ?? 'woopdi:';
  // Auto-pipelining: the publishes of one event-loop turn (a worker's concurrent jobs, a fan of
  // invalidations) leave in one write instead of one each; their order is kept.
  const publisher = new Redis(options.url, {
    lazyConnect: false,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
  });
  const subscriber = new Redis(options.url, { lazyConnect: false, maxRetriesPerRequest: null });
  const listeners = new Map<string, Set<Listener>>();
  // One SUBSCRIBE per channel however many local subscribers; the pending promise is shared.
  const subscribed = new Map<string, Promise<unknown>>();

  subscriber.on('message', (channel: string, message: string) => {
    const set = listeners.get(channel);
    if (set) for (const l of set) l(message);
  });
  // Errors surface on the next command; without a listener ioredis would print them as unhandled.
  publisher.on('error', () => {});
  subscriber.on('error', () => {});

  // ioredis reconnects by itself and re-sends SUBSCRIBE for every channel before emitting 'ready';
  // whatever was published in between is gone. One more SUBSCRIBE of every channel (a no-op for
  // those already subscribed) answers after those, so once it does, the subscriptions are live
  // again and the listeners may re-read what they missed without a window for a further loss.
  const reconnectListeners = new Set<() => void>();
  let closing = false;
  subscriber.on('ready', () => {
    if (closing || reconnectListeners.size === 0) return;
    const channels = [...listeners.keys()];
    const resubscribed = channels.length > 0 ? subscriber.subscribe(...channels) : Promise.resolve();
    resubscribed.then(
      () => {
        if (closing) return;
        for (const l of [...reconnectListeners]) {
          try {
            l();
          } catch {}
        }
      },
      // Dropped again before answering: the next 'ready' tries again.
      () => {},
    );
  });

  return {
    kind: 'redis',
    async publish(channel, event) {
      await publisher.publish(prefix + channel, JSON.stringify(event));
    },
    subscribe(channel, opts) {
      const full = prefix + channel;
      return createSubscription(
        async (l) => {
          const set = listeners.get(full) ?? new Set<Listener>();
          listeners.set(full, set);
          set.add(l);
          let pending = subscribed.get(full);
          if (!pending) {
            pending = subscriber.subscribe(full);
            subscribed.set(full, pending);
          }
          await pending;
        },
        (l) => {
          const set = listeners.get(full);
          if (!set) return;
          set.delete(l);
          if (set.size === 0) {
            listeners.delete(full);
            subscribed.delete(full);
            subscriber.unsubscribe(full).catch(() => {});
          }
        },
        opts?.signal,
      );
    },
    async ping() {
      await publisher.ping();
    },
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => void reconnectListeners.delete(listener);
    },
    async close() {
      closing = true;
      reconnectListeners.clear();
      listeners.clear();
      subscribed.clear();
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}

/** Redis when a URL is configured, else in-process. */
export const createEventBus = (redisUrl: string | undefined, prefix?: string): EventBus =>
  redisUrl ? createRedisBus({ url: redisUrl, prefix }) : createMemoryBus();
