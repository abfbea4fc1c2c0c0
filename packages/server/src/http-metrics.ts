import type { IncomingMessage } from 'node:http';
import { metrics, registry } from '@woopdi/core';
import type { RequestHandler } from 'express';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * A low-cardinality route label: the tRPC procedure (`trpc:organizations.get`, `trpc:batch` for
 * several), or the path with ids folded (`/api/organizations/:id`).
 */
export function routeLabel(req: IncomingMessage & { originalUrl?: string }): string {
  const path = (req.originalUrl ?? req.url ?? '/').split('?')[0]!;
  if (path.startsWith('/trpc/')) {
    const procedures = path.slice('/trpc/'.length);
    return procedures.includes(',') ? 'trpc:batch' : `trpc:${procedures}`;
  }
  return path.replace(UUID, ':id').replace(/\/storage\/.*/, '/storage/*');
}

export const recordHttpMetrics: RequestHandler = (req, res, next) => {
  const end = metrics.httpDuration.startTimer();
  res.on('finish', () => end({ route: routeLabel(req), method: req.method, status: String(res.statusCode) }));
  next();
};

export const metricsRoute: RequestHandler = async (_req, res) => {
  res.setHeader('content-type', registry.contentType);
  res.end(await registry.metrics());
};
