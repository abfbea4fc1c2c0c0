// The web app's build served at `/` (what the all-in-one process does): its files, index.html for
// every page path, and never in front of the API's own routes, whose misses stay JSON 404s.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer } from './helpers.js';

const INDEX =
  '<!doctype html><html lang="en"><head><title>app</title></head><body><div id="root"></div></body></html>';

describe('the web app at /', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'woopdi-web-dist-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), INDEX);
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log("app")');
    await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    server = await startTestServer({}, { webAppDir: dir });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and at every page path, never cached', async () => {
    for (const path of ['/', '/sign-in', '/organizations/7f1c/tasks', '/accept-invitation?token=abc']) {
      const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      expect(await res.text(), path).toBe(INDEX);
    }
  });

  it('serves hashed assets for a year and other files revalidated', async () => {
    const asset = await fetch(`${server.url}/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toBe('console.log("app")');
    const icon = await fetch(`${server.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers a missing file with a 404, not the page', async () => {
    const res = await call(`${server.url}/assets/index-gone.js`);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
  });

  it("never shadows the server's own paths", async () => {
    const html = { accept: 'text/html' };
    expect((await call(`${server.url}/healthz`, { headers: html })).body).toEqual({ status: 'ok' });
    const rest = await call(`${server.url}/api/no-such-thing`, { headers: html });
    expect(rest.status).toBe(404);
    expect(rest.text).not.toContain('<div id="root">');
    const trpc = await call(`${server.url}/trpc/users.me`, { headers: html });
    expect(trpc.status).toBe(401);
    const sse = await call(`${server.url}/tasks/00000000-0000-4000-8000-000000000000/events`, {
      headers: html,
    });
    expect(sse.status).toBe(401);
    const docs = await fetch(`${server.url}/docs`, { headers: html });
    expect(await docs.text()).toContain('swagger-ui');
    const openapi = await call(`${server.url}/openapi.json`);
    expect(openapi.body).toHaveProperty('openapi');
    for (const path of ['/docs/nope', '/storage/nope', '/webhooks/nope', '/metrics/nope']) {
      const res = await call(`${server.url}${path}`, { headers: html });
      expect(res.text, path).not.toContain('<div id="root">');
    }
  });

  it('answers other methods on page paths as before (JSON 404)', async () => {
    const res = await call(`${server.url}/sign-in`, { method: 'POST', body: {} });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
  });
});
