// A plain websocket of a task's live events at `/tasks/{taskId}/ws`, for clients that are not tRPC:
// each event is one JSON text frame (the TaskEvent object). Authentication and membership are
// checked before the upgrade, so a refused client gets an ordinary HTTP 401/404 answer (429 over
// WS_MAX_PER_ADDRESS or WS_MAX_PER_USER open connections, see socket-limits.ts). Every
// socket is a follower of the process's shared fan-out (one bus subscription per task): an event's
// JSON bytes are built once and written to every socket following the task.
//
// Close codes: 1000 after task_end / task_error; 1008 when the caller loses access; 1012 when the
// server shuts down or the event bus failed; 1013 when the client reads too slowly (more than
// STREAM_MAX_BUFFERED_BYTES queued for it). On 1012 and 1013, reconnect with ?lastEventId=<last
// seq> to resume; a client that does not read even the close frame is cut off a few seconds later.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type ApiDeps,
  authorizeTaskStream,
  createContextFactory,
  type FeedEntry,
  type Follow,
  type FollowEnd,
  getTaskFanout,
  type PendingFollow,
} from '@woopdi/api';
import { metrics } from '@woopdi/core';
import { type WebSocket, WebSocketServer } from 'ws';
import { type ConnectionLimits, tooManyForUser } from './socket-limits.js';
import { type StreamError, StreamRequestError, streamErrorOf, streamRequest } from './task-sse.js';

/** The path of the plain task websocket; the capture is the task id. */
export const TASK_WS_PATH = /^\/tasks\/([^/]+)\/ws$/;

export const CLOSE_NORMAL = 1000;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_INTERNAL_ERROR = 1011;
/** RFC 6455 "Service Restart" (websocket.ts's CLOSE_SERVICE_RESTART): reconnect. */
const CLOSE_TRY_AGAIN = 1012;
/** RFC 6455 "Try Again Later": the client fell too far behind; reconnect with its last event id. */
export const CLOSE_TOO_SLOW = 1013;
/** How long a dropped slow socket may take to read its close frame before it is cut off. */
const SLOW_CLOSE_GRACE_MS = 5_000;

export interface TaskSockets {
  /** Authenticates, checks membership, then upgrades (or answers 401/404/400 over HTTP). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, taskId: string): void;
  /** Closes every socket with `code` and refuses new upgrades. */
  close(code: number, reason: string): Promise<void>;
  connections(): number;
}

export interface TaskSocketsOptions {
  pingMs?: number;
  /** Bytes queued for one socket before it is dropped with 1013; default config.streamMaxBufferedBytes. */
  maxBufferedBytes?: number;
  /** Per-user connection slots (the gateway takes the per-address one before the upgrade). */
  limits?: ConnectionLimits;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers the upgrade request with a plain HTTP error (JSON body, like the REST API) and closes. */
export function refuse(socket: Duplex, { status, body }: StreamError) {
  if (socket.destroyed) return;
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      'Connection: close\r\n\r\n' +
      json,
  );
}

const RESTARTING: StreamError = {
  status: 503,
  body: { code: 'SERVICE_UNAVAILABLE', message: 'The server is restarting: reconnect.' },
};

/** A close reason is at most 123 bytes. */
const reasonOf = (message: string) =>
  Buffer.byteLength(message) <= 123 ? message : `${message.slice(0, 100)}…`;

/** Text frames from shared bytes: ws frames them per socket without copying the payload. */
const TEXT = { binary: false } as const;

/**
 * After a send of `justSent` bytes: drops a socket whose backlog (what was still queued before this
 * message) exceeds the bound — 1013, then cut off if it does not even read that. One large message
 * alone never counts. Returns true when it dropped. Shared with the tRPC websocket (websocket.ts).
 */
export function dropIfSlow(
  ws: WebSocket,
  justSent: number,
  maxBufferedBytes: number,
  transport: string,
): boolean {
  if (ws.bufferedAmount - justSent <= maxBufferedBytes || ws.readyState !== ws.OPEN) return false;
  metrics.slowStreamDrops.inc({ transport });
  ws.close(CLOSE_TOO_SLOW, 'too slow: reconnect with your last event id');
  setTimeout(() => ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  return true;
}

export function createTaskSockets(deps: ApiDeps, options: TaskSocketsOptions = {}): TaskSockets {
  const createContext = createContextFactory(deps);
  const fanout = getTaskFanout(deps);
  const maxBufferedBytes = options.maxBufferedBytes ?? deps.config.streamMaxBufferedBytes;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  const follows = new Map<WebSocket, Follow>();
  let closing = false;

  // Dead peers (a laptop that slept, a dropped network) are found by ping/pong and terminated.
  const alive = new WeakSet<WebSocket>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, options.pingMs ?? 30_000);
  pinger.unref();

  /** The fan-out writes each event straight to the socket: no per-socket queue, no await. */
  function follow(ws: WebSocket, pending: PendingFollow): Follow {
    let dropped = false;
    const handle = pending.attach({
      deliver(entry: FeedEntry) {
        if (dropped || ws.readyState !== ws.OPEN) return;
        const bytes = entry.bytes();
        ws.send(bytes, TEXT);
        if (dropIfSlow(ws, bytes.length, maxBufferedBytes, 'ws')) {
          dropped = true;
          // Detached after this call returns: the fan-out is iterating its followers right now.
          queueMicrotask(() => follows.get(ws)?.close());
        }
      },
      end(reason: FollowEnd) {
        if (dropped || ws.readyState !== ws.OPEN) return;
        if (reason.kind === 'finished') ws.close(CLOSE_NORMAL, 'task finished');
        else if (reason.kind === 'access-lost')
          ws.close(CLOSE_POLICY_VIOLATION, reasonOf(reason.error.message));
        // Interrupted: the bus failed, or the server is stopping (close() sends 1012 itself).
        else if (!closing) ws.close(CLOSE_TRY_AGAIN, 'stream interrupted: reconnect with ?lastEventId=');
      },
    });
    return handle;
  }

  const handleUpgrade: TaskSockets['handleUpgrade'] = (req, socket, head, taskId) => {
    let gone = false;
    // Covers a client that goes away during authentication.
    const onClose = () => {
      gone = true;
    };
    socket.once('close', onClose);
    void (async () => {
      let pending: PendingFollow;
      try {
        if (closing) throw new StreamRequestError(RESTARTING);
        const { ctx, lastEventId } = streamRequest(createContext, req);
        const scope = await authorizeTaskStream(ctx, taskId);
        const limits = options.limits;
        if (limits) {
          const release = limits.forUser(scope.userId);
          if (!release) throw new StreamRequestError(tooManyForUser(limits.maxPerUser));
          // Given back when the upgrade socket closes, however the connection ends.
          if (gone || socket.destroyed) release();
          else socket.once('close', release);
        }
        pending = await fanout.open(scope, lastEventId);
      } catch (error) {
        const known = error instanceof StreamRequestError ? error.error : streamErrorOf(error);
        if (!known) deps.logger.error({ err: error }, 'task websocket upgrade failed');
        refuse(
          socket,
          known ?? {
            status: 500,
            body: { code: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong on our side.' },
          },
        );
        return;
      }
      socket.off('close', onClose);
      if (gone || socket.destroyed || closing) {
        pending.cancel();
        if (closing) refuse(socket, RESTARTING);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        metrics.websocketConnections.inc();
        alive.add(ws);
        ws.on('pong', () => alive.add(ws));
        // The client sends nothing; anything it sends is ignored.
        ws.on('error', () => undefined);
        ws.once('close', () => {
          metrics.websocketConnections.dec();
          follows.get(ws)?.close();
          follows.delete(ws);
          pending.cancel();
        });
        if (pending.complete) {
          // The client already has the terminal event.
          pending.cancel();
          ws.close(CLOSE_NORMAL, 'task finished');
          return;
        }
        follows.set(ws, follow(ws, pending));
      });
    })();
  };

  return {
    handleUpgrade,
    connections: () => wss.clients.size,
    async close(code, reason) {
      closing = true;
      clearInterval(pinger);
      for (const ws of wss.clients) ws.close(code, reason);
      for (const handle of follows.values()) handle.close();
      follows.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
