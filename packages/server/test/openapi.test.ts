// The OpenAPI document and the offline docs pages, fetched from the running server.
import SwaggerParser from '@apidevtools/swagger-parser';
import { appRouter } from '@woopdi/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
}
interface OpenApiDoc {
  openapi: string;
  servers?: { url: string }[];
  security?: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> };
}
interface ProcedureDef {
  _def: { type: string; meta?: { openapi?: { method: string; path: string } } };
}

let server: TestServer;
let doc: OpenApiDoc;

beforeAll(async () => {
  server = await startTestServer();
  const res = await fetch(`${server.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  doc = (await res.json()) as OpenApiDoc;
});

afterAll(async () => {
  await server?.close();
});

const procedures = () =>
  Object.entries((appRouter._def as unknown as { procedures: Record<string, ProcedureDef> }).procedures);

/** The security requirements that apply to an operation: its own, else the document's. */
const securityOf = (op: Operation) => op.security ?? doc.security ?? [];

function operation(method: string, path: string): Operation | undefined {
  return doc.paths[path]?.[method.toLowerCase()];
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('points its server at this server under /api, with paths relative to it', () => {
    // Relative: "Try it out" calls whichever host served the docs.
    expect(doc.servers?.map((s) => s.url)).toEqual(['/api']);
    expect(Object.keys(doc.paths)).toContain('/auth/login');
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/api/'))).toBe(false);
  });

  it('has an OpenAPI route for every query and mutation of the router', () => {
    const routed = procedures().filter(([, p]) => p._def.type === 'query' || p._def.type === 'mutation');
    expect(routed.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const [name, procedure] of routed) {
      const openapi = procedure._def.meta?.openapi;
      if (!openapi) {
        missing.push(`${name}: no meta.openapi`);
        continue;
      }
      if (!operation(openapi.method, openapi.path))
        missing.push(`${name}: ${openapi.method} ${openapi.path}`);
      // A query is a GET, a mutation is not.
      expect(openapi.method === 'GET', name).toBe(procedure._def.type === 'query');
    }
    expect(missing).toEqual([]);
  });

  it('serves every documented route: none of them answers "no such route"', async () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const concrete = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const res = await fetch(`${server.url}/api${concrete}`, {
          method: method.toUpperCase(),
          headers: method === 'get' ? {} : { 'content-type': 'application/json' },
          body: method === 'get' ? undefined : '{}',
        });
        const body = (await res.json()) as { code?: string; message?: string };
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
        expect(body.message ?? '', `${method} ${path}`).not.toMatch(/^Not found$|No such route/);
      }
    }
  });

  it('requires no credentials for the public endpoints', () => {
    const publicOps = [
      ['POST', '/auth/login'],
      ['POST', '/auth/signup'],
      ['GET', '/system-settings'],
    ] as const;
    for (const [method, path] of publicOps) {
      const op = operation(method, path);
      expect(op, `${method} ${path}`).toBeDefined();
      expect(securityOf(op!), `${method} ${path}`).toEqual([]);
    }
  });

  it('requires the bearer token for /user/me, and defines that scheme', () => {
    expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const method of ['GET', 'PATCH']) {
      expect(securityOf(operation(method, '/user/me')!)).toEqual([{ bearer: [] }]);
    }
    expect(securityOf(operation('GET', '/organizations/{organizationId}')!)).toEqual([{ bearer: [] }]);
  });
});

/** The src of every <script> and the href of every <link> in a page. */
function assetsOf(html: string): { scripts: string[]; links: string[] } {
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]!);
  const links = [...html.matchAll(/<link\b[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]!);
  return { scripts, links };
}

describe.each([
  { page: '/docs', minScripts: 2, minLinks: 1, specIn: '/docs/init.js' },
  { page: '/redoc', minScripts: 1, minLinks: 0, specIn: '/redoc' },
])('$page', ({ page, minScripts, minLinks, specIn }) => {
  it('is an HTML page whose scripts and styles are all served locally', async () => {
    const res = await fetch(`${server.url}${page}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    // The UI loads this server's own document.
    expect(await (await fetch(`${server.url}${specIn}`)).text()).toMatch(/["']\/openapi\.json["']/);
    const { scripts, links } = assetsOf(html);
    expect(scripts.length).toBeGreaterThanOrEqual(minScripts);
    expect(links.length).toBeGreaterThanOrEqual(minLinks);
    // No CDN: the page must render with no internet access.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);

    for (const [urls, type] of [
      [scripts, /javascript/],
      [links, /text\/css/],
    ] as const) {
      for (const url of urls) {
        expect(url, 'a local absolute path').toMatch(/^\/[^/]/);
        const asset = await fetch(`${server.url}${url}`);
        expect(asset.status, url).toBe(200);
        expect(asset.headers.get('content-type'), url).toMatch(type);
        expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(0);
      }
    }
  });

  it('is served under a Content-Security-Policy that allows only its own scripts', async () => {
    const res = await fetch(`${server.url}${page}`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    // The page has no inline script, which that policy would block.
    expect(await res.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  });
});
