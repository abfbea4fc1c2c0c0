// HOST: the api binds the configured address (default 0.0.0.0) unless the caller passes a host.
import { createServer } from 'node:net';
import { createTestDeps, TEST_ENV, type TestDeps } from '@woopdi/api/testing';
import { createMemoryBus, loadConfig } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, startApiServer } from '../src/index.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(async () => {
  await deps?.close();
});

/** Starts an api with `env` on a free port; answers where it listened, and whether its url answers. */
async function listen(env: Record<string, string>, options: { host?: string } = {}) {
  const config = loadConfig({ ...TEST_ENV, ...env });
  const runtime = createRuntime(config, deps.databaseUrl, deps.logger, createMemoryBus(), deps.storage);
  const api = await startApiServer(runtime, { port: 0, ...options });
  try {
    const healthz = await fetch(`${api.url}/healthz`);
    return { address: api.server.address(), url: api.url, port: api.port, healthy: healthz.ok };
  } finally {
    await api.stop();
    await runtime.close();
  }
}

const ipv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

describe('HOST', () => {
  it('binds every IPv4 interface by default, reachable on loopback', async () => {
    const started = await listen({});
    expect(started.address).toMatchObject({ address: '0.0.0.0', family: 'IPv4' });
    expect(started.url).toBe(`http://127.0.0.1:${started.port}`);
    expect(started.healthy).toBe(true);
  });

  it('HOST=127.0.0.1 binds loopback only', async () => {
    const started = await listen({ HOST: '127.0.0.1' });
    expect(started.address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(started.url).toBe(`http://127.0.0.1:${started.port}`);
    expect(started.healthy).toBe(true);
  });

  it.runIf(ipv6Loopback)('HOST=::1 binds IPv6 loopback, and the url brackets it', async () => {
    const started = await listen({ HOST: '::1' });
    expect(started.address).toMatchObject({ address: '::1', family: 'IPv6' });
    expect(started.url).toBe(`http://[::1]:${started.port}`);
    expect(started.healthy).toBe(true);
  });

  it('a host passed to startApiServer wins over HOST', async () => {
    const started = await listen({ HOST: '0.0.0.0' }, { host: '127.0.0.1' });
    expect(started.address).toMatchObject({ address: '127.0.0.1' });
  });
});
