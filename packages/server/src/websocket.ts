import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { type ApiDeps, appRouter, createContextFactory } from '@woopdi/api';
import { metrics } from '@woopdi/core';
import { WebSocketServer } from 'ws';
import { createTaskSockets, dropIfSlow, TASK_WS_PATH } from './task-ws.js';

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
 */
export function attachWebSockets(server: Server, deps: ApiDeps): WebSocketGateway {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const handler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: createContextFactory(deps),
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 10_000 },
  });
  const taskSockets = createTaskSockets(deps);
  const maxBufferedBytes = deps.config.streamMaxBufferedBytes;
  wss.on('connection', (ws) => {
    metrics.websocketConnections.inc();
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
    if (task) {
      taskSockets.handleUpgrade(req, socket, head, task[1]!);
      return;
    }
    if (path !== '/trpc') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
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
