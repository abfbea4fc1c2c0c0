import type { IncomingMessage } from 'node:http';
import type { AnyRouter } from '@trpc/server';
import { appRouter } from '@woopdi/api';
import { metrics, registry, safeEqual } from '@woopdi/core';
import type { RequestHandler } from 'express';
import { forEachOpenApiProcedure, getPathRegExp, normalizePath } from 'trpc-to-openapi';

/** The one label of every request that matched no route (issue #14: labels must stay bounded). */
export const UNMATCHED = 'unmatched';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The routes outside tRPC and the REST bridge, by template. */
const fixed = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/docs',
  '/redoc',
  '/webhooks/stripe',
]);

interface RouteTable {
  procedures: Set<string>;
  rest: Array<{ method: string; pattern: RegExp; label: string }>;
}

let table: RouteTable | undefined;
function routes(router: AnyRouter = appRouter): RouteTable {
  if (table) return table;
  const rest: RouteTable['rest'] = [];
  forEachOpenApiProcedure(router._def.procedures, ({ meta }) => {
    const path = normalizePath(meta.openapi.path);
    rest.push({ method: meta.openapi.method, pattern: getPathRegExp(path), label: `/api${path}` });
  });
  table = { procedures: new Set(Object.keys(router._def.procedures)), rest };
  return table;
}

/**
 * A bounded route label: the tRPC procedure (`trpc:organizations.get`, `trpc:batch` for several),
 * the REST route template (`/api/organizations/{organizationId}`), a fixed route, or "unmatched"
 * for everything else — never a path a client made up.
 */
export function routeLabel(req: IncomingMessage & { originalUrl?: string }): string {
  const path = (req.originalUrl ?? req.url ?? '/').split('?')[0]!;
  const { procedures, rest } = routes();
  if (path.startsWith('/trpc/')) {
    let names: string[];
    try {
      names = decodeURIComponent(path.slice('/trpc/'.length)).split(',');
    } catch {
      return UNMATCHED;
    }
    if (!names.every((n) => procedures.has(n))) return UNMATCHED;
    return names.length > 1 ? 'trpc:batch' : `trpc:${names[0]}`;
  }
  if (path === '/trpc') return '/trpc';
  if (path.startsWith('/api/')) {
    const sub = normalizePath(path.slice(4));
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route =
      rest.find((r) => r.method === method && r.pattern.test(sub)) ?? rest.find((r) => r.pattern.test(sub));
    return route?.label ?? UNMATCHED;
  }
  if (fixed.has(path)) return path;
  if (path.startsWith('/docs/')) return '/docs/*';
  if (path.startsWith('/redoc/')) return '/redoc/*';
  if (path.startsWith('/storage/')) return '/storage/*';
  const task = /^\/tasks\/([^/]+)\/(events|ws)$/.exec(path);
  if (task && UUID.test(task[1]!)) return `/tasks/:id/${task[2]}`;
  return UNMATCHED;
}

export const recordHttpMetrics: RequestHandler = (req, res, next) => {
  const end = metrics.httpDuration.startTimer();
  res.on('finish', () => end({ route: routeLabel(req), method: req.method, status: String(res.statusCode) }));
  next();
};

/**
 * /metrics on the public port: only with `Authorization: Bearer <METRICS_TOKEN>`; without a
 * configured token it does not exist there (404, as any unknown route). Scrape a worker's
 * METRICS_PORT (bound to 127.0.0.1 by default) instead, or set the token.
 */
export function metricsRoute(token: string | undefined): RequestHandler {
  return async (req, res) => {
    if (!token) return void res.status(404).json({ code: 'NOT_FOUND', message: 'No such route. See /docs.' });
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!given || !safeEqual(given, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      return void res.status(401).json({
        code: 'UNAUTHORIZED',
        message: 'Metrics need "Authorization: Bearer <METRICS_TOKEN>".',
      });
    }
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  };
}
