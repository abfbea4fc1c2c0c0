// Interactive API docs served from installed packages, so they render with no internet access.
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

export function docsRouter(): Router {
  const r = express.Router();
  // Both UIs inject styles at runtime; Redoc also starts a worker from a blob.
  const uiPolicy = helmet.contentSecurityPolicy({
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      workerSrc: ["'self'", 'blob:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'", 'data:'],
    },
  });
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
  r.get(
    '/redoc/redoc.standalone.js',
    (_req, res) => void res.sendFile(redocBundle, { maxAge: '1d', dotfiles: 'allow' }),
  );
  return r;
}
