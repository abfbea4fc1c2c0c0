// Terminating links for subscriptions: websocket (default) or Server-Sent Events. Both authenticate
// with `connectionParams: { token }`, read when a connection opens (and on every reconnect), after
// refreshing an expired access token.
import {
  createWSClient,
  httpSubscriptionLink,
  TRPCClientError,
  type TRPCLink,
  type TRPCWebSocketClient,
  type WebSocketClientOptions,
  wsLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { SentTokens } from './auth-link.js';
import type { Session } from './session.js';
import type { AppRouter } from './types.js';

/** Anything shaped like the WebSocket class: the browser's, or `ws`'s default export on Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;
/** Anything shaped like the EventSource class: the browser's, or the `eventsource` package's. */
export type EventSourceConstructor = NonNullable<Parameters<typeof httpSubscriptionLink>[0]['EventSource']>;

type ConnectionParams = Record<string, string>;

async function connectionParams(session: Session): Promise<ConnectionParams> {
  await session.ensureFresh();
  const token = session.accessToken();
  return token ? { token } : {};
}

interface Generation {
  client: TRPCWebSocketClient;
  link: ReturnType<TRPCLink<AppRouter>>;
  /** The access token this client's open socket authenticated with; undefined before it opened. */
  sentToken: string | null | undefined;
}

/**
 * Subscriptions over websocket. The server reads the token once per connection, so a socket opened
 * with an access token that has since been replaced (refresh, login as someone else) must not carry
 * new subscriptions: they go to a fresh socket, and the old one closes once its own subscriptions
 * end (lazy mode).
 */
export function webSocketSubscriptions(opts: {
  url: string;
  WebSocket: WebSocketConstructor | undefined;
  session: Session;
  sent: SentTokens;
}): Subscriptions {
  const generations = new Set<Generation>();
  let current: Generation | null = null;
  let closed = false;

  const open = (runtime: Parameters<TRPCLink<AppRouter>>[0]): Generation => {
    const generation = { sentToken: undefined } as Generation;
    generation.client = createWSClient({
      url: opts.url,
      // The link refuses subscriptions before opening a client when there is no WebSocket class.
      WebSocket: opts.WebSocket as NonNullable<WebSocketClientOptions['WebSocket']>,
      lazy: { enabled: true, closeMs: 5_000 },
      connectionParams: async () => {
        const params = await connectionParams(opts.session);
        generation.sentToken = params.token ?? null;
        return params;
      },
      onOpen: () => {
        if (closed) void generation.client.close();
        else generations.add(generation);
      },
      onClose: () => {
        generation.sentToken = undefined;
        // A replaced client gets no new subscriptions; once its socket is gone it is forgotten
        // (if it reconnects for subscriptions it still carries, onOpen tracks it again).
        if (generation !== current) generations.delete(generation);
      },
    });
    generation.link = wsLink<AppRouter>({ client: generation.client })(runtime);
    generations.add(generation);
    return generation;
  };

  const stale = (generation: Generation) => {
    const connection = generation.client.connection;
    return (
      connection !== null &&
      connection.state !== 'closed' &&
      generation.sentToken !== undefined &&
      generation.sentToken !== opts.session.accessToken()
    );
  };

  const link: TRPCLink<AppRouter> = (runtime) => (props) => {
    if (closed) {
      return observable((observer) => {
        observer.error(closedError());
      });
    }
    if (!opts.WebSocket) {
      return observable((observer) => {
        observer.error(
          new TRPCClientError(
            'No WebSocket implementation: pass `WebSocket` (on Node 20: `import WebSocket from "ws"`) or use `subscriptions: "sse"`.',
          ),
        );
      });
    }
    // The replaced client keeps serving its own subscriptions; lazy mode closes its socket once idle.
    if (!current || stale(current)) current = open(runtime);
    const generation = current;
    opts.sent.set(props.op, generation.sentToken ?? opts.session.accessToken());
    return generation.link(props);
  };

  return {
    link,
    async close() {
      closed = true;
      current = null;
      const all = [...generations];
      generations.clear();
      await Promise.all(all.map((g) => g.client.close()));
    },
  };
}

export interface Subscriptions {
  link: TRPCLink<AppRouter>;
  /** Ends every open subscription (its observer completes) and refuses new ones. */
  close(): Promise<void>;
}

const closedError = () => new TRPCClientError('This Woopdi client was closed: create a new one.');

/** Subscriptions over Server-Sent Events (`GET /trpc/<path>?connectionParams=…`). */
export function sseSubscriptions(opts: {
  url: string;
  EventSource: EventSourceConstructor;
  session: Session;
  sent: SentTokens;
}): Subscriptions {
  const sse = httpSubscriptionLink<AppRouter, EventSourceConstructor>({
    url: opts.url,
    EventSource: opts.EventSource,
    connectionParams: () => connectionParams(opts.session),
  });
  const open = new Set<() => void>();
  let closed = false;
  const link: TRPCLink<AppRouter> = (runtime) => {
    const terminal = sse(runtime);
    return (props) =>
      observable((observer) => {
        if (closed) {
          observer.error(closedError());
          return;
        }
        opts.sent.set(props.op, opts.session.accessToken());
        const inner = terminal(props).subscribe(observer);
        const end = () => {
          inner.unsubscribe();
          observer.complete();
        };
        open.add(end);
        return () => {
          open.delete(end);
          inner.unsubscribe();
        };
      });
  };
  return {
    link,
    async close() {
      closed = true;
      for (const end of [...open]) end();
      open.clear();
    },
  };
}
