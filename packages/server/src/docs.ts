// Interactive API docs served from installed packages, so they render with no internet access.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Router } from 'express';
import helmet from 'helmet';

const require = createRequire(import.meta.url);
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));
const redocBundle = require.resolve('redoc/bundles/redoc.standalone.js');

const swaggerPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Woopdi API — docs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;

// The init script is a file, not inline, so the page runs under a strict Content-Security-Policy.
const swaggerInit = `window.ui = SwaggerUIBundle({
  url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true,
  tryItOutEnabled: true,
});`;

const redocPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Woopdi API — reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="/redoc/redoc.standalone.js"></script></body></html>`;

// Redoc's sidebar footer loads its logo from cdn.redoc.ly (blocked by the CSP, a console error):
// the bundle is served with that one address pointing at a local copy instead.
const REDOC_CDN_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const redocLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16" width="16" height="16"><rect width="16" height="16" rx="3" fill="#d63a3a"/><path d="M5 12V4h3.2a2.3 2.3 0 0 1 .6 4.5L11 12H9.3L7.4 8.7H6.5V12zm1.5-4.6h1.6a1 1 0 0 0 0-2H6.5z" fill="#fff"/></svg>`;
let redocSource: Promise<string> | undefined;
const patchedRedoc = () =>
  (redocSource ??= readFile(redocBundle, 'utf8').then((js) =>
    js.replaceAll(REDOC_CDN_LOGO, '/redoc/logo-mini.svg'),
  ));

/** `alwaysUpgrade`: API_HOST is https, so the CSP asks browsers to upgrade insecure requests. */
export function docsRouter(alwaysUpgrade = false): Router {
  const r = express.Router();
  // Both UIs inject styles at runtime; Redoc also starts a worker from a blob.
  const policy = (upgrade: boolean) =>
    helmet.contentSecurityPolicy({
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        workerSrc: ["'self'", 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        upgradeInsecureRequests: upgrade ? [] : null,
      },
    });
  const upgrading = policy(true);
  const notUpgrading = alwaysUpgrade ? upgrading : policy(false);
  const uiPolicy: express.RequestHandler = (req, res, next) =>
    (req.secure ? upgrading : notUpgrading)(req, res, next);
  r.get('/docs', uiPolicy, (_req, res) => void res.type('html').send(swaggerPage));
  r.get('/docs/init.js', (_req, res) => void res.type('application/javascript').send(swaggerInit));
  // Only the files the page uses: the package also ships a demo page pointing at a remote petstore.
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png']) {
    r.get(
      `/docs/assets/${file}`,
      (_req, res) => void res.sendFile(join(swaggerDir, file), { maxAge: '1d', dotfiles: 'allow' }),
    );
  }
  r.get('/redoc', uiPolicy, (_req, res) => void res.type('html').send(redocPage));
  r.get('/redoc/redoc.standalone.js', async (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('application/javascript').send(await patchedRedoc());
  });
  r.get('/redoc/logo-mini.svg', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('image/svg+xml').send(redocLogo);
  });
  return r;
}
