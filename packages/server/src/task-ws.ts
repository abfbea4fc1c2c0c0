// A plain websocket of a task's live events at `/tasks/{taskId}/ws`, for clients that are not tRPC:
// each event is one JSON text frame (the TaskEvent object). Authentication and membership are
// checked before the upgrade, so a refused client gets an ordinary HTTP 401/404 answer. The socket
// closes with 1000 after task_end / task_error, with 1008 when the caller loses access, with 1012
// when the server shuts down (reconnect with ?lastEventId=<last seq> to resume).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ApiDeps, createContextFactory, openTaskStream } from '@woopdi/api';
import { isTerminalEvent, metrics, type TaskEvent } from '@woopdi/core';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  alreadySent,
  type StreamError,
  StreamRequestError,
  streamErrorOf,
  streamRequest,
} from './task-sse.js';

/** The path of the plain task websocket; the capture is the task id. */
export const TASK_WS_PATH = /^\/tasks\/([^/]+)\/ws$/;

export const CLOSE_NORMAL = 1000;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_INTERNAL_ERROR = 1011;
/** RFC 6455 "Service Restart" (websocket.ts's CLOSE_SERVICE_RESTART): reconnect. */
const CLOSE_TRY_AGAIN = 1012;

export interface TaskSockets {
  /** Authenticates, checks membership, then upgrades (or answers 401/404/400 over HTTP). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, taskId: string): void;
  /** Closes every socket with `code` and refuses new upgrades. */
  close(code: number, reason: string): Promise<void>;
  connections(): number;
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
function refuse(socket: Duplex, { status, body }: StreamError) {
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

function send(ws: WebSocket, data: string): Promise<boolean> {
  if (ws.readyState !== ws.OPEN) return Promise.resolve(false);
  return new Promise((resolve) => ws.send(data, (error) => resolve(!error)));
}

export function createTaskSockets(deps: ApiDeps, options: { pingMs?: number } = {}): TaskSockets {
  const createContext = createContextFactory(deps);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  const controllers = new Map<WebSocket, AbortController>();
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

  async function pump(ws: WebSocket, stream: AsyncGenerator<TaskEvent>, finished: boolean) {
    try {
      if (finished) {
        // The client already has the terminal event.
        ws.close(CLOSE_NORMAL, 'task finished');
        return;
      }
      for await (const event of stream) {
        if (!(await send(ws, JSON.stringify(event)))) return;
        if (isTerminalEvent(event.type)) {
          ws.close(CLOSE_NORMAL, 'task finished');
          return;
        }
      }
      // Ended without a terminal event: the client went away, or the server is stopping (1012 sent
      // by close()), or the event bus went away: the client should reconnect and resume.
      if (ws.readyState === ws.OPEN && !closing)
        ws.close(CLOSE_TRY_AGAIN, 'stream interrupted: reconnect with ?lastEventId=');
    } catch (error) {
      const known = streamErrorOf(error);
      if (!known) deps.logger.error({ err: error }, 'task websocket stream failed');
      if (ws.readyState === ws.OPEN) {
        if (known?.body.code === 'FORBIDDEN' || known?.body.code === 'UNAUTHORIZED') {
          ws.close(CLOSE_POLICY_VIOLATION, reasonOf(known.body.message));
        } else {
          ws.close(CLOSE_INTERNAL_ERROR, 'event stream failed; reconnect with ?lastEventId= to resume');
        }
      }
    }
  }

  const handleUpgrade: TaskSockets['handleUpgrade'] = (req, socket, head, taskId) => {
    const controller = new AbortController();
    // Covers a client that goes away during authentication, and the websocket's whole life.
    socket.once('close', () => controller.abort());
    void (async () => {
      let stream: AsyncGenerator<TaskEvent>;
      let finished: boolean;
      try {
        if (closing) throw new StreamRequestError(RESTARTING);
        const { ctx, lastEventId } = streamRequest(createContext, req);
        stream = await openTaskStream(ctx, taskId, lastEventId, controller.signal);
        finished = await alreadySent(ctx, taskId, lastEventId);
      } catch (error) {
        controller.abort();
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
      if (controller.signal.aborted || closing) {
        controller.abort();
        if (closing) refuse(socket, RESTARTING);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        metrics.websocketConnections.inc();
        ws.once('close', () => metrics.websocketConnections.dec());
        controllers.set(ws, controller);
        alive.add(ws);
        ws.on('pong', () => alive.add(ws));
        // The client sends nothing; anything it sends is ignored.
        ws.on('error', () => undefined);
        ws.once('close', () => {
          controllers.delete(ws);
          controller.abort();
        });
        void pump(ws, stream, finished);
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
      for (const controller of controllers.values()) controller.abort();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
