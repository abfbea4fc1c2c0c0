// The api entry point as a real process (the compiled runtime, dist/main-api.js, as production runs
// it): refusing a bad environment, and stopping gracefully.
import type { ChildProcess } from 'node:child_process';
import { createTestDeps } from '@woopdi/api/testing';
import { describe, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { isolatedEnv, spawnEntry } from './processes.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node dist/main-api.js` with only the given environment (plus PATH and HOME). */
function startApi(env: Record<string, string>): { child: ChildProcess; exited: Promise<Exit> } {
  const spawned = spawnEntry('dist/main-api.js', isolatedEnv(env));
  const exited = spawned.exited.then((exit) => ({
    ...exit,
    stdout: spawned.stdout(),
    stderr: spawned.stderr(),
  }));
  return { child: spawned.child, exited };
}

/** Resolves the exit, or rejects after `ms` (killing the process so nothing is left behind). */
async function exitWithin(started: ReturnType<typeof startApi>, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      started.child.kill('SIGKILL');
      reject(new Error(`the api process did not exit within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([started.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('the api process refuses a bad environment', () => {
  it.concurrent('exits 1 with one line naming JWT_SECRET when IS_PROD=true and it is missing', async () => {
    const exit = await exitWithin(
      startApi({ IS_PROD: 'true', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' }),
      15_000,
    );
    expect(exit.code, exit.stderr).toBe(1);
    expect(lines(exit.stderr), exit.stderr).toHaveLength(1);
    expect(exit.stderr).toMatch(/JWT_SECRET/);
    expect(exit.stderr).not.toMatch(/\bat \S+ \(|node_modules/);
  });

  it.concurrent('exits 1 with one line naming WEB_CONCURRENCY when it is not a process count', async () => {
    const exit = await exitWithin(
      startApi({ WEB_CONCURRENCY: 'many', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' }),
      15_000,
    );
    expect(exit.code, exit.stderr).toBe(1);
    expect(lines(exit.stderr), exit.stderr).toHaveLength(1);
    expect(exit.stderr).toMatch(/^woopdi: WEB_CONCURRENCY is invalid: .*auto/);
  });

  it.concurrent('exits 1 with one line naming DATABASE_URL when it is not set', async () => {
    const exit = await exitWithin(startApi({ IS_PROD: 'false' }), 15_000);
    expect(exit.code, exit.stderr).toBe(1);
    expect(lines(exit.stderr), exit.stderr).toHaveLength(1);
    expect(exit.stderr).toMatch(/DATABASE_URL/);
  });
});

describe('the api process stops gracefully', () => {
  it('serves, then exits 0 on SIGTERM even with an idle keep-alive connection open', async () => {
    const deps = await createTestDeps();
    const port = await freePort();
    const started = startApi({
      DATABASE_URL: deps.databaseUrl,
      PORT: String(port),
      LOG_LEVEL: 'info',
      JWT_SECRET: 'startup-test-jwt-value-0123456789abcdef',
      // Longer than the exit bound below: exiting in time proves idle sockets are closed, not waited out.
      SHUTDOWN_TIMEOUT_MS: '30000',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 15_000;
      let healthy = false;
      while (!healthy && Date.now() < deadline && started.child.exitCode === null) {
        healthy = await fetch(`${url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!healthy) await new Promise((r) => setTimeout(r, 100));
      }
      expect(healthy, 'the api never answered /healthz').toBe(true);
      // A request that uses the database, leaving a keep-alive connection behind.
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ database: 'ok' });

      started.child.kill('SIGTERM');
      const exit = await exitWithin(started, 8_000);
      expect(exit.signal).toBeNull();
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.stdout).toMatch(/shutting down/);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
      await deps.close();
    }
  });
});
