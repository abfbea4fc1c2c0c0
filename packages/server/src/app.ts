import type { IncomingMessage, ServerResponse } from 'node:http';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import {
  type ApiDeps,
  appRouter,
  createContextFactory,
  createOpenApiDocument,
  isPendingUpload,
} from '@woopdi/api';
import { isLocalStorage } from '@woopdi/core';
import type { DbHandle } from '@woopdi/db';
import cors, { type CorsOptions } from 'cors';
import express, { type ErrorRequestHandler, type Express } from 'express';
import helmet from 'helmet';
import { createOpenApiExpressMiddleware } from 'trpc-to-openapi';
import { assetUploadRoute } from './assets-upload.js';
import { docsRouter } from './docs.js';
import { retryAfterHeaders } from './errors.js';
import { createHotPath, helmetOptions } from './hot-path.js';
import { metricsRoute, recordHttpMetrics } from './http-metrics.js';
import { depthGuard, JSON_TOO_DEEP, tooDeepMessage } from './json-depth.js';
import { oauthRoutes } from './oauth-routes.js';
import { createProcedureLane, type ProcedureLane, procedureLaneMiddleware } from './procedure-lane.js';
import { requestLog } from './request-log.js';
import { type ConnectionLimits, createConnectionLimits, TRUST_PROXY } from './socket-limits.js';
import { storageRoutes } from './storage-routes.js';
import { stripeWebhookRouter } from './stripe-webhook.js';
import { taskEventsSse } from './task-sse.js';
import { webAppRouter } from './web-app.js';

export interface AppOptions extends ApiDeps {
  sql: DbHandle['sql'];
  /** Public base URL of this server for the OpenAPI document; '' keeps it relative (same origin). */
  publicUrl: string;
  /** Open-connection slots shared with the websockets (startApiServer's); else the app's own. */
  connectionLimits?: ConnectionLimits;
  /** The web app's build to serve at `/` (the all-in-one process), if any. */
  webAppDir?: string;
}

const JSON_LIMIT = '1mb';
/** JSON_LIMIT in bytes, as body-parser reads it. */
const JSON_LIMIT_BYTES = 1024 * 1024;
/** The multipart upload, an express route under /api that the REST bridge never sees. */
const UPLOAD_ROUTE = /^\/organizations\/[^/]+\/assets\/upload\/?$/i;

const alwaysUpgrade = (config: AppOptions['config']) => config.apiHost?.startsWith('https://') ?? false;

const corsOptions = (config: AppOptions['config']): CorsOptions => ({
  origin: config.corsOrigins,
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'Last-Event-ID', 'trpc-accept'],
  exposedHeaders: [
    'X-Request-Id',
    'Retry-After',
    'RateLimit-Limit',
    'RateLimit-Remaining',
    'RateLimit-Reset',
    'RateLimit-Policy',
  ],
  maxAge: 600,
});

const onErrorFor =
  (logger: AppOptions['logger']) =>
  ({ error, path }: { error: { code: string; message: string; cause?: unknown }; path?: string }) => {
    if (error.code === 'INTERNAL_SERVER_ERROR')
      logger.error({ err: error.cause ?? error, path }, 'procedure failed');
  };

/** GET queries and JSON-body mutations, answered without the adapters (see procedure-lane.ts). */
const laneFor = (options: AppOptions) =>
  createProcedureLane({
    router: appRouter,
    maxBatchSize: options.config.trpcMaxBatchSize,
    createContext: createContextFactory(options),
    onError: onErrorFor(options.logger),
    errorHeaders: retryAfterHeaders,
    body: { maxBytes: JSON_LIMIT_BYTES, maxDepth: options.config.jsonMaxDepth },
    ownedByExpress: (method, path) => method === 'POST' && UPLOAD_ROUTE.test(path),
  });

/** The node request listener: the hot path in front, the express app for everything else. */
export function createRequestListener(
  options: AppOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const lane = laneFor(options);
  const app = createApp(options, lane);
  const hot = createHotPath({
    lane,
    logger: options.logger,
    cors: corsOptions(options.config),
    trustProxy: TRUST_PROXY,
    alwaysUpgrade: alwaysUpgrade(options.config),
  });
  return (req, res) => {
    // As express does: lets a gate set response headers (an API key's RateLimit-*) on the hot path too.
    (req as IncomingMessage & { res?: ServerResponse }).res = res;
    if (!hot(req, res)) app(req, res);
  };
}

export function createApp(options: AppOptions, lane: ProcedureLane = laneFor(options)): Express {
  const { config, logger, sql } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', TRUST_PROXY);

  app.use(requestLog(app, logger));
  app.use(recordHttpMetrics);
  // CSP upgrade-insecure-requests only where the page was reached over TLS (or API_HOST is https):
  // sent over plain HTTP it makes browsers fetch /docs' scripts over https, leaving it blank.
  const upgrading = helmet(helmetOptions(true));
  const notUpgrading = alwaysUpgrade(config) ? upgrading : helmet(helmetOptions(false));
  app.use((req, res, next) => (req.secure ? upgrading : notUpgrading)(req, res, next));
  app.use(cors(corsOptions(config)));

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/metrics', metricsRoute(config.metricsToken));
  // Each dependency answers within 2 s or counts as down; Redis only when it is the bus (service mode).
  const check = async (probe: () => Promise<unknown>): Promise<'ok' | 'down'> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), 2000);
        }),
      ]);
      return 'ok';
    } catch {
      return 'down';
    } finally {
      clearTimeout(timer);
    }
  };
  app.get('/readyz', async (_req, res) => {
    const bus = options.bus;
    const [database, redis] = await Promise.all([
      check(() => sql`select 1`),
      bus.kind === 'redis' && bus.ping ? check(() => bus.ping!()) : undefined,
    ]);
    const ready = database === 'ok' && redis !== 'down';
    if (!ready) res.setHeader('Retry-After', '5');
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ok' : 'unavailable', database, ...(redis && { redis }) });
  });

  // Before any body parser: the signature covers the raw bytes.
  app.use(stripeWebhookRouter(options));

  const createContext = createContextFactory(options);
  const onError = onErrorFor(logger);

  // GET queries and JSON-body REST mutations skip the adapters' per-call machinery (when createApp
  // is used alone; the request listener's hot path takes them before express).
  app.use(procedureLaneMiddleware(lane));
  // tRPC bodies read here (as text, which the adapter takes as is) so their depth is checked first.
  const depth = depthGuard(config.jsonMaxDepth);
  app.post('/trpc/*path', express.text({ limit: JSON_LIMIT, type: () => true, verify: depth }));
  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext,
      onError,
      maxBodySize: 1024 * 1024,
      maxBatchSize: config.trpcMaxBatchSize,
      responseMeta: ({ errors }) => ({ headers: retryAfterHeaders(errors) }),
    }),
  );

  // Generated on first request, then kept: it is large, slow to build (most of a cold start) and
  // the router never changes at runtime.
  let openApiDocument: ReturnType<typeof createOpenApiDocument> | undefined;
  app.get('/openapi.json', (_req, res) => {
    openApiDocument ??= createOpenApiDocument(options.publicUrl);
    res.json(openApiDocument);
  });
  app.use(docsRouter(alwaysUpgrade(config)));

  // Multipart uploads stream to storage: mounted before /api, whose JSON parser would read the body.
  app.post('/api/organizations/:organizationId/assets/upload', assetUploadRoute(options));
  // The local driver's signed upload and download URLs (GCS serves its own).
  if (isLocalStorage(options.storage))
    app.use(
      '/storage',
      storageRoutes(options.storage, logger, (key) => isPendingUpload(options, key)),
    );

  const rest = createOpenApiExpressMiddleware({
    router: appRouter,
    createContext,
    onError,
    maxBodySize: 1024 * 1024,
    responseMeta: ({ errors }) => ({ headers: retryAfterHeaders(errors) }),
  });
  app.use(
    '/api',
    express.json({ limit: JSON_LIMIT, type: () => true, verify: depth }),
    (req, _res, next) => {
      // The body is parsed above whatever its declared type; telling the bridge it is JSON lets
      // body-less POSTs (curl -X POST …/logout) through instead of failing with 415.
      req.headers['content-type'] = 'application/json';
      next();
    },
    (req, res) => void rest(req, res),
  );

  // OAuth / OpenID Connect sign-in: /oauth/{provider}/start and /oauth/{provider}/callback.
  app.use(oauthRoutes(options));

  // Plain SSE of a task's events for non-tRPC clients (the websocket twin is /tasks/{taskId}/ws).
  const limits = options.connectionLimits ?? createConnectionLimits(config);
  app.get('/tasks/:taskId/events', taskEventsSse(options, { limits }));
  // The websocket twin is served on 'upgrade' (websocket.ts); a plain GET is told what it is.
  app.get('/tasks/:taskId/ws', (_req, res) => {
    res.setHeader('Upgrade', 'websocket');
    res.status(426).json({
      code: 'UPGRADE_REQUIRED',
      message: 'This is a websocket: connect with a websocket client (ws:// or wss://, Upgrade: websocket).',
    });
  });

  // Last, so it never stands in front of a route above.
  if (options.webAppDir) app.use(webAppRouter(options.webAppDir));

  app.use(
    (_req, res) => void res.status(404).json({ code: 'NOT_FOUND', message: 'No such route. See /docs.' }),
  );

  const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
    const status =
      err?.code === JSON_TOO_DEEP
        ? 400
        : typeof err?.status === 'number' && err.status >= 400 && err.status < 500
          ? err.status
          : 500;
    if (status === 500) req.log?.error({ err }, 'unhandled error');
    const tooDeep = err?.code === JSON_TOO_DEEP;
    const body = tooDeep
      ? { code: 'BAD_REQUEST', message: tooDeepMessage(config.jsonMaxDepth) }
      : status === 413
        ? { code: 'PAYLOAD_TOO_LARGE', message: `The request body is larger than ${JSON_LIMIT}.` }
        : status === 400
          ? { code: 'BAD_REQUEST', message: 'The request body is not valid JSON.' }
          : status < 500
            ? { code: 'BAD_REQUEST', message: String(err.message ?? 'Bad request') }
            : {
                code: 'INTERNAL_SERVER_ERROR',
                message: 'Something went wrong on our side. It has been logged.',
              };
    if (!res.headersSent) res.status(status).json(body);
  };
  app.use(errorHandler);
  return app;
}
