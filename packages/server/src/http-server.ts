import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLocalStorage } from '@woopdi/core';
import { type AppOptions, createRequestListener } from './app.js';
import { apiDeps, type Runtime } from './runtime.js';
import { createConnectionLimits } from './socket-limits.js';
import { attachWebSockets, type WebSocketGateway } from './websocket.js';

export interface ApiServer {
  server: Server;
  url: string;
  port: number;
  websockets: WebSocketGateway;
  /** Stops accepting, lets in-flight requests finish (bounded by the shutdown timeout), then closes. */
  stop(): Promise<void>;
}

/** A URL for reaching a server bound to `address`: loopback when it listens on every interface. */
function urlFor({ address, family, port }: AddressInfo): string {
  if (address === '0.0.0.0' || address === '::') return `http://127.0.0.1:${port}`;
  return family === 'IPv6' ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

/** Listens on `options.port` / `options.host`, else the config's PORT and HOST (default 0.0.0.0). */
export async function startApiServer(
  runtime: Runtime,
  options: { port?: number; host?: string; publicUrl?: string; webAppDir?: string } = {},
): Promise<ApiServer> {
  const deps = await apiDeps(runtime);
  const server = createServer();
  const port = options.port ?? runtime.config.port;
  const host = options.host ?? runtime.config.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const actualPort = address.port;
  const url = urlFor(address);
  // Local signed URLs point at this server: without API_HOST it knows its address only now.
  if (isLocalStorage(runtime.storage) && !runtime.config.apiHost) runtime.storage.publicUrl = url;
  // One count of open websockets and SSE streams per server, across every route that holds one.
  const connectionLimits = createConnectionLimits(runtime.config);
  const appOptions: AppOptions = {
    ...deps,
    publicUrl: options.publicUrl ?? runtime.config.apiHost ?? '',
    connectionLimits,
    webAppDir: options.webAppDir,
  };
  server.on('request', createRequestListener(appOptions));
  const websockets = attachWebSockets(server, deps, connectionLimits);
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
