// The OpenAPI document and the offline docs pages, fetched from the running server.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { appRouter } from '@woopdi/api';
import { taskEventTypes, taskKinds } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  tags?: string[];
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
/** A path item: its operations by method, and (the task streams) its own servers. */
type PathItem = { servers?: { url: string }[] } & { [method: string]: Operation };
interface OpenApiDoc {
  openapi: string;
  servers?: { url: string }[];
  security?: Record<string, string[]>[];
  paths: Record<string, PathItem>;
  components?: {
    securitySchemes?: Record<string, { type: string; scheme?: string; in?: string }>;
    schemas?: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
  };
  tags?: { name: string; description: string }[];
}
interface ProcedureDef {
  _def: {
    type: string;
    meta?: { openapi?: { method: string; path: string }; access?: { scope: string; session?: string } };
  };
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

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
/** The operations of a path item, by method (without its `servers`). */
const operationsOf = (item: PathItem): [string, Operation][] =>
  METHODS.filter((m) => item[m]).map((m) => [m, item[m]!]);

function operation(method: string, path: string): Operation | undefined {
  return doc.paths[path]?.[method.toLowerCase()];
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('points its server at this server under /api, with paths relative to it', () => {
    // Relative without API_HOST: "Try it out" calls whichever host served the docs.
    expect(doc.servers?.map((s) => s.url)).toEqual(['/api']);
    expect(Object.keys(doc.paths)).toContain('/auth/login');
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/api/'))).toBe(false);
    // The task streams are served at the root, not under /api.
    for (const path of ['/tasks/{taskId}/events', '/tasks/{taskId}/ws'])
      expect(
        doc.paths[path]?.servers?.map((s) => s.url),
        path,
      ).toEqual(['/']);
  });

  it('makes every server URL absolute from API_HOST', async () => {
    const hosted = await startTestServer({ API_HOST: 'https://api.example.com/' });
    try {
      const res = await fetch(`${hosted.url}/openapi.json`);
      const served = (await res.json()) as OpenApiDoc;
      expect(served.servers?.map((s) => s.url)).toEqual(['https://api.example.com/api']);
      expect(served.paths['/tasks/{taskId}/events']?.servers?.map((s) => s.url)).toEqual([
        'https://api.example.com',
      ]);
    } finally {
      await hosted.close();
    }
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
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method] of operationsOf(item)) {
        const concrete = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const root = item.servers ? '' : '/api';
        const res = await fetch(`${server.url}${root}${concrete}`, {
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
      ['GET', '/auth/oauth/providers'],
      ['POST', '/auth/oauth/exchange'],
    ] as const;
    for (const [method, path] of publicOps) {
      const op = operation(method, path);
      expect(op, `${method} ${path}`).toBeDefined();
      expect(securityOf(op!), `${method} ${path}`).toEqual([]);
    }
  });

  it("passes Redocly's recommended rules: no error, and only the warnings explained here", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'woopdi-openapi-')), 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    const redocly = fileURLToPath(new URL('../../../node_modules/.bin/redocly', import.meta.url));
    // Exits non-zero on any error; the JSON report lists each problem.
    const { stdout } = await promisify(execFile)(redocly, ['lint', file, '--format=json'], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      problems: { ruleId: string; severity: string; location: { pointer: string }[] }[];
    };
    const found = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}`).sort();
    expect(found).toEqual([
      // A websocket upgrade answers 101 (Switching Protocols), never 2xx.
      'warn operation-2xx-response #/paths/~1tasks~1{taskId}~1ws/get/responses',
      // Answered from configuration alone (no input, database, Redis or rate limit): only 200 is
      // possible, and a made-up 4xx would be a lie a generated client then handles.
      'warn operation-4xx-response #/paths/~1auth~1oauth~1providers/get/responses',
      'warn operation-4xx-response #/paths/~1billing~1plans/get/responses',
      'warn operation-4xx-response #/paths/~1system-settings/get/responses',
    ]);
  });

  it("describes auth.login's answer as a oneOf: the tokens, or a two-factor challenge", () => {
    type Schema = { $ref?: string; oneOf?: Schema[]; properties?: Record<string, { const?: unknown }> };
    const login = operation('POST', '/auth/login') as {
      responses: { 200: { content: { 'application/json': { schema: Schema } } } };
    };
    const ref = login.responses[200].content['application/json'].schema.$ref!;
    const result = doc.components!.schemas![ref.split('/').at(-1)!] as Schema;
    const variants = result.oneOf!.map((v) => doc.components!.schemas![v.$ref!.split('/').at(-1)!] as Schema);
    expect(variants.map((v) => v.properties?.twoFactorRequired?.const)).toEqual([false, true]);
    expect(Object.keys(variants[0]!.properties!)).toEqual(expect.arrayContaining(['user', 'tokens']));
    expect(Object.keys(variants[1]!.properties!)).toEqual(expect.arrayContaining(['challengeToken']));
  });

  it("describes tasks.start's body as a oneOf by kind, each kind's input from core's catalogue", () => {
    type Schema = {
      $ref?: string;
      oneOf?: Schema[];
      discriminator?: { propertyName: string; mapping: Record<string, string> };
      properties?: Record<string, Schema>;
      required?: string[];
      const?: string;
      minimum?: number;
      maximum?: number;
      default?: unknown;
    };
    const start = operation('POST', '/organizations/{organizationId}/tasks') as {
      requestBody: { content: { 'application/json': { schema: Schema } } };
    };
    const body = start.requestBody.content['application/json'].schema;
    expect(body.discriminator?.propertyName).toBe('kind');
    expect(Object.keys(body.discriminator?.mapping ?? {}).sort()).toEqual(Object.keys(taskKinds).sort());
    expect(body.oneOf?.map((v) => v.$ref).sort()).toEqual(Object.values(body.discriminator!.mapping).sort());
    const variant = (kind: string) => {
      const ref = body.discriminator!.mapping[kind]!;
      return doc.components!.schemas![ref.split('/').at(-1)!] as Schema;
    };
    for (const kind of Object.keys(taskKinds)) expect(variant(kind).properties?.kind?.const, kind).toBe(kind);
    // example_streaming: input optional, its fields bounded and defaulted as core says.
    const streaming = variant('example_streaming');
    expect(streaming.required).toEqual(['kind']);
    expect(streaming.properties?.input?.properties?.steps).toMatchObject({
      minimum: 1,
      maximum: 600,
      default: 10,
    });
    expect(streaming.properties?.input?.properties?.intervalMs).toMatchObject({ minimum: 0, maximum: 5000 });
    // generate_image: the prompt is required.
    const image = variant('generate_image');
    expect(image.required?.sort()).toEqual(['input', 'kind']);
    expect(image.properties?.input?.required).toEqual(['prompt']);
  });

  it('describes the SSE and websocket task streams: auth, Last-Event-ID, statuses and the TaskEvent schema', () => {
    type StreamOp = Operation & {
      parameters: { name: string; in: string }[];
      responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
    };
    const sse = operation('GET', '/tasks/{taskId}/events') as StreamOp;
    const ws = operation('GET', '/tasks/{taskId}/ws') as StreamOp;
    for (const op of [sse, ws]) {
      expect(op.tags).toEqual(['tasks']);
      expect(securityOf(op)).toEqual([{ bearer: [] }, { accessTokenQuery: [] }]);
      expect(op.parameters.map((p) => `${p.in} ${p.name}`)).toEqual(
        expect.arrayContaining(['path taskId', 'header Last-Event-ID', 'query lastEventId']),
      );
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401', '404', '429', '503']));
    }
    expect(Object.keys(sse.responses['200']?.content ?? {})).toEqual(['text/event-stream']);
    expect(sse.responses).toHaveProperty('204');
    expect(ws.responses['101']?.content?.['application/json']?.schema?.$ref).toBe(
      '#/components/schemas/TaskEvent',
    );
    expect(doc.components?.securitySchemes?.accessTokenQuery).toMatchObject({ type: 'apiKey', in: 'query' });
    const event = doc.components?.schemas?.TaskEvent as {
      required: string[];
      properties: { type: { enum: string[] } };
    };
    expect(event.required.sort()).toEqual(['at', 'message', 'seq', 'taskId', 'type']);
    expect(event.properties.type.enum).toEqual([...taskEventTypes]);
  });

  it('names every operation uniquely and declares every tag it uses', () => {
    const ids = Object.values(doc.paths).flatMap((item) =>
      operationsOf(item).map(([, op]) => op.operationId),
    );
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const used = new Set(
      Object.values(doc.paths).flatMap((item) => operationsOf(item).flatMap(([, op]) => op.tags ?? [])),
    );
    expect(new Set(doc.tags?.map((t) => t.name))).toEqual(used);
    expect(doc.tags?.every((t) => t.description.length > 10)).toBe(true);
  });

  it("takes each operation's security and error statuses from its procedure's gate", () => {
    for (const [, procedure] of procedures()) {
      const { openapi, access } = procedure._def.meta ?? {};
      if (!openapi || !access) continue;
      const op = operation(openapi.method, openapi.path)!;
      const where = `${openapi.method} ${openapi.path}`;
      const statuses = Object.keys(op.responses ?? {});
      if (access.scope === 'public')
        expect(securityOf(op), where).toEqual(access.session === 'optional' ? [{}, { bearer: [] }] : []);
      else expect(securityOf(op), where).toEqual([{ bearer: [] }]);
      if (access.scope !== 'public') expect(statuses, where).toContain('401');
      if (access.scope === 'org') expect(statuses, where).toEqual(expect.arrayContaining(['403', '404']));
    }
    // Accepting an invitation works signed out (new account) and signed in (existing user).
    expect(securityOf(operation('POST', '/invitations/accept')!)).toEqual([{}, { bearer: [] }]);
  });

  it('describes every error with the one Error schema the server really sends', async () => {
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of operationsOf(item))
        for (const [status, response] of Object.entries(op.responses ?? {}))
          if (/^[45]/.test(status))
            expect(response.content?.['application/json']?.schema?.$ref, `${method} ${path} ${status}`).toBe(
              '#/components/schemas/Error',
            );
    const schema = doc.components?.schemas?.Error;
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'not an email', password: 'x' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    for (const key of schema?.required ?? []) expect(body).toHaveProperty(key);
    for (const key of Object.keys(body)) expect(Object.keys(schema?.properties ?? {})).toContain(key);
    expect((body.issues as { path: unknown[] }[])[0]?.path).toEqual(['email']);
  });

  it('gives uuid and date-time fields a format and a readable example, not a regular expression', () => {
    const withPattern: string[] = [];
    JSON.stringify(doc, (key, value: { format?: string; pattern?: string }) => {
      if (value && typeof value === 'object' && value.format && value.pattern)
        withPattern.push(`${key}: ${value.format}`);
      return value;
    });
    expect(withPattern).toEqual([]);
    expect(JSON.stringify(doc)).toContain('"format":"uuid"');
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
