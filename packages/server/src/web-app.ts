// The web app's static build (packages/web/dist) served at `/` by the all-in-one process: hashed
// assets cached for good, index.html for every other page path (the app routes in the browser), and
// never in front of the API's own paths, which keep their JSON 404.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Router } from 'express';

/** Paths the server answers itself: a miss under them is the API's 404, not the app's page. */
const SERVER_PATHS = [
  '/api',
  '/trpc',
  '/docs',
  '/redoc',
  '/openapi.json',
  '/healthz',
  '/readyz',
  '/metrics',
  '/webhooks',
  '/storage',
  '/oauth',
  '/tasks',
];

export const isServerPath = (path: string) =>
  SERVER_PATHS.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

/** The directory of a built app (it holds index.html), or undefined. */
export function findWebApp(dir: string): string | undefined {
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}

export function webAppRouter(dir: string): Router {
  const router = express.Router();
  const index = join(dir, 'index.html');
  const assets = express.static(dir, {
    index: false,
    setHeaders: (res, path) => {
      // Vite names built assets by their content hash: a changed file is a new name.
      res.setHeader(
        'Cache-Control',
        path.includes(`${join(dir, 'assets')}/`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  router.use((req, res, next) => {
    if (isServerPath(req.path)) return next();
    assets(req, res, next);
  });
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isServerPath(req.path)) return next();
    // A missing file (an old hashed asset, a typo) stays a 404; only page paths get the app.
    if (/\.[a-z0-9]+$/i.test(req.path)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}
