import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLocalStorage } from '@woopdi/core';
import { type AppOptions, createApp } from './app.js';
import { apiDeps, type Runtime } from './runtime.js';
import { attachWebSockets, type WebSocketGateway } from './websocket.js';

export interface ApiServer {
  server: Server;
  url: string;
  port: number;
  websockets: WebSocketGateway;
  /** Stops accepting, lets in-flight requests finish (bounded by the shutdown timeout), then closes. */
  stop(): Promise<void>;
}

export async function startApiServer(
  runtime: Runtime,
  options: { port?: number; host?: string; publicUrl?: string } = {},
): Promise<ApiServer> {
  const deps = await apiDeps(runtime);
  const server = createServer();
  const port = options.port ?? runtime.config.port;
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${actualPort}`;
  // Local signed URLs point at this server: without API_HOST it knows its address only now.
  if (isLocalStorage(runtime.storage) && !runtime.config.apiHost) runtime.storage.publicUrl = url;
  const appOptions: AppOptions = { ...deps, publicUrl: options.publicUrl ?? runtime.config.apiHost ?? '' };
  server.on('request', createApp(appOptions));
  const websockets = attachWebSockets(server, deps);
  // Bounds slow clients; longer than typical proxy idle timeouts so keep-alive reuse works.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return {
    server,
    url,
    port: actualPort,
    websockets,
    async stop() {
      await websockets.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timeout = new Promise<void>((resolve) =>
        setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, runtime.config.shutdownTimeoutMs).unref(),
      );
      await Promise.race([closed, timeout]);
    },
  };
}
