// Health and readiness, security headers, CORS and request ids on the running server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createEventBus } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, startApiServer } from '../src/index.js';
import { freePort, leaksOf, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

/** Starts an API server whose database is at `databaseUrl`, runs `fn` against it, then stops it. */
async function withServerOn(databaseUrl: string, fn: (url: string) => Promise<void>): Promise<void> {
  const runtime = createRuntime(server.deps.config, databaseUrl, server.deps.logger);
  const api = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
  try {
    await fn(api.url);
  } finally {
    await api.stop();
    // postgres.js waits out the whole end() timeout for a connection that failed; nothing is in
    // flight against these fake databases, so drop the pool at once.
    await runtime.dbHandle.sql.end({ timeout: 0 });
  }
}

async function expectUnready(url: string) {
  const started = Date.now();
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
  const elapsed = Date.now() - started;
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.headers.get('retry-after')).toBe('5');
  expect(await res.json()).toEqual({ status: 'unavailable', database: 'down' });
  expect(elapsed).toBeLessThan(3000);
  // Liveness does not depend on the database: the process itself is fine.
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
}

describe('health', () => {
  it('answers /healthz with 200', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 when the database is up', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'ok' });
  });

  it('reports Redis apart from the database, and is 503 while the Redis bus is down', async () => {
    // A private redis-server (never the machine's shared one), killed under a running api.
    const port = await freePort();
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    try {
      const bus = createEventBus(`redis://127.0.0.1:${port}`);
      await expect
        .poll(
          () =>
            bus.ping!().then(
              () => true,
              () => false,
            ),
          { timeout: 10_000 },
        )
        .toBe(true);
      const runtime = createRuntime(server.deps.config, server.deps.databaseUrl, server.deps.logger, bus);
      const api = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
      try {
        const up = await fetch(`${api.url}/readyz`);
        expect(up.status).toBe(200);
        expect(await up.json()).toEqual({ status: 'ok', database: 'ok', redis: 'ok' });
        redis.kill('SIGKILL');
        await once(redis, 'exit');
        const down = await fetch(`${api.url}/readyz`, { signal: AbortSignal.timeout(5000) });
        expect(down.status).toBe(503);
        expect(down.headers.get('retry-after')).toBe('5');
        expect(await down.json()).toEqual({ status: 'unavailable', database: 'ok', redis: 'down' });
      } finally {
        await api.stop();
        await runtime.close();
      }
    } finally {
      if (redis.exitCode === null) redis.kill('SIGKILL');
    }
  });

  it('answers /readyz with a JSON 503 at once when the database refuses connections', async () => {
    await withServerOn('postgres://postgres@127.0.0.1:1/nope', expectUnready);
  });

  it('answers a procedure that needs the unreachable database with a 503 and Retry-After that reveal nothing', async () => {
    await withServerOn('postgres://postgres@127.0.0.1:1/nope', async (url) => {
      const body = JSON.stringify({ email: 'someone@example.com', password: 'whatever-password' });
      const headers = { 'content-type': 'application/json' };
      for (const path of ['/api/auth/login', '/trpc/auth.login']) {
        const res = await fetch(`${url}${path}`, { method: 'POST', headers, body });
        const text = await res.text();
        expect(res.status, path).toBe(503);
        expect(res.headers.get('retry-after'), path).toBe('5');
        expect(text, path).toMatch(/SERVICE_UNAVAILABLE/);
        expect(text, path).toMatch(/temporarily unavailable \(its database cannot be reached\)/);
        expect(leaksOf(text), text).toEqual([]);
        expect(text, path).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);
      }
    });
  });

  it('answers /readyz with a JSON 503 within 3 s when the database accepts but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const goAway = () => {
      silent.close();
      for (const s of sockets) s.destroy();
    };
    try {
      await withServerOn(`postgres://postgres@127.0.0.1:${port}/silent`, async (url) => {
        await expectUnready(url);
        goAway();
      });
    } finally {
      goAway();
    }
  });
});

describe('security headers', () => {
  it('sends helmet headers and no x-powered-by', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
    const api = await fetch(`${server.url}/api/system-settings`);
    expect(api.status).toBe(200);
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('sends the same security headers on the hot path (GET queries) as through express', async () => {
    const viaExpress = await fetch(`${server.url}/healthz`);
    const viaHotPath = await fetch(`${server.url}/api/system-settings`);
    const security = (res: Response) =>
      Object.fromEntries(
        [...res.headers].filter(
          ([name]) => !/^(content-|date|connection|keep-alive|etag|x-request-id)/.test(name),
        ),
      );
    expect(Object.keys(security(viaExpress)).length).toBeGreaterThan(8);
    expect(security(viaHotPath)).toEqual(security(viaExpress));
  });

  it('sends a Content-Security-Policy on /docs', async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    fetch(`${server.url}/api/auth/login`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });

  it('allows a preflight from the web client origin (WEB_CLIENT_URL)', async () => {
    const res = await preflight('http://app.test');
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/authorization/);
  });

  it('grants nothing to any other origin', async () => {
    const res = await preflight('http://evil.test');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${server.url}/api/system-settings`, {
      headers: { origin: 'http://evil.test' },
    });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
    const allowed = await fetch(`${server.url}/api/system-settings`, {
      headers: { origin: 'http://app.test' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/X-Request-Id/i);
  });

  it('answers each origin for itself on the hot path, whatever came before (its headers are kept per origin)', async () => {
    const get = (origin?: string) =>
      fetch(`${server.url}/api/system-settings`, { headers: origin ? { origin } : {} });
    for (const origin of [
      'http://app.test',
      'http://evil.test',
      'http://app.test',
      undefined,
      'http://evil.test',
    ]) {
      const res = await get(origin);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(
        origin === 'http://app.test' ? origin : null,
      );
      expect(res.headers.get('vary')).toMatch(/Origin/);
    }
  });
});

describe('request ids', () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it('gives every response a fresh x-request-id', async () => {
    const a = await fetch(`${server.url}/healthz`);
    const b = await fetch(`${server.url}/api/no-such-route`);
    expect(a.headers.get('x-request-id')).toMatch(uuid);
    expect(b.headers.get('x-request-id')).toMatch(uuid);
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });

  it('echoes a well-formed x-request-id and replaces a malformed one', async () => {
    const given = await fetch(`${server.url}/api/system-settings`, {
      headers: { 'x-request-id': 'trace-42_abc' },
    });
    expect(given.headers.get('x-request-id')).toBe('trace-42_abc');
    const bad = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(65) } });
    expect(bad.headers.get('x-request-id')).toMatch(uuid);
    const injected = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'a b<script>' } });
    expect(injected.headers.get('x-request-id')).toMatch(uuid);
  });
});
