import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { type ApiDeps, appRouter } from '@woopdi/api';
import { metrics } from '@woopdi/core';
import { WebSocketServer } from 'ws';
import { type ConnectionLimits, createConnectionLimits, tooManyFromAddress } from './socket-limits.js';
import { createTaskSockets, dropIfSlow, refuse, TASK_WS_PATH } from './task-ws.js';
import { guardTrpcSocket, withUserSlot } from './trpc-ws-guard.js';

/** RFC 6455 "Service Restart": tells clients to reconnect (to this or another instance). */
export const CLOSE_SERVICE_RESTART = 1012;

export interface WebSocketGateway {
  /** Closes every socket with 1012 and stops accepting upgrades. */
  close(): Promise<void>;
  connections(): number;
}

/**
 * tRPC over websocket at /trpc on the same HTTP server. Clients authenticate with
 * `connectionParams: { token: <accessToken> }`. The plain task websocket `/tasks/{taskId}/ws`
 * (task-ws.ts) shares the upgrade listener. Both drop a client that reads too slowly with 1013.
 *
 * Connection limits (socket-limits.ts, shared with the SSE route through `limits`): an address
 * over WS_MAX_PER_ADDRESS is refused with 429 before the upgrade, a user over WS_MAX_PER_USER with
 * 429 (task socket) or close 1013 (/trpc, whose user is known from its connectionParams). A /trpc
 * frame over TRPC_MAX_BATCH_SIZE calls and a silent /trpc socket: see trpc-ws-guard.ts.
 */
export function attachWebSockets(
  server: Server,
  deps: ApiDeps,
  limits: ConnectionLimits = createConnectionLimits(deps.config),
): WebSocketGateway {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const maxBatchSize = deps.config.trpcMaxBatchSize;
  const handler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: withUserSlot(deps, limits),
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 10_000 },
    // guardTrpcSocket refuses longer frames first, with the limit in the message; this is tRPC's own.
    maxBatchSize,
  });
  const taskSockets = createTaskSockets(deps, { limits });
  const firstMessageTimeoutMs = deps.config.connectionLimits.firstMessageTimeoutMs;
  const maxBufferedBytes = deps.config.streamMaxBufferedBytes;
  wss.on('connection', (ws, req: IncomingMessage) => {
    metrics.websocketConnections.inc();
    guardTrpcSocket(ws, req, { maxBatchSize, firstMessageTimeoutMs });
    ws.once('close', () => metrics.websocketConnections.dec());
    // tRPC writes every subscription event without backpressure: a client that stops reading is
    // dropped with 1013 once its backlog passes the bound (wsLink reconnects and resumes with the
    // last event id) instead of growing the send buffer without limit.
    const send = ws.send.bind(ws);
    ws.send = ((data: Parameters<typeof send>[0], ...rest: unknown[]) => {
      (send as (...args: unknown[]) => void)(data, ...rest);
      // String length, not byte length: a cheap estimate of this message's share of the backlog.
      const size = typeof data === 'string' ? data.length : ((data as ArrayBufferLike).byteLength ?? 0);
      dropIfSlow(ws, size, maxBufferedBytes, 'trpc-ws');
    }) as typeof ws.send;
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const task = TASK_WS_PATH.exec(path);
    if (!task && path !== '/trpc') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    // Taken before any authentication work, so unauthenticated sockets are bounded too; the
    // upgrade socket closes exactly once, whichever way the connection ends.
    const release = limits.forAddress(limits.addressOf(req));
    if (!release) {
      refuse(socket, tooManyFromAddress(limits.maxPerAddress));
      return;
    }
    socket.once('close', release);
    if (task) {
      taskSockets.handleUpgrade(req, socket, head, task[1]!);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);

  return {
    connections: () => wss.clients.size + taskSockets.connections(),
    async close() {
      server.off('upgrade', onUpgrade);
      handler.broadcastReconnectNotification();
      for (const ws of wss.clients) ws.close(CLOSE_SERVICE_RESTART, 'server restarting');
      await Promise.all([
        new Promise<void>((resolve) => wss.close(() => resolve())),
        taskSockets.close(CLOSE_SERVICE_RESTART, 'server restarting'),
      ]);
    },
  };
}
