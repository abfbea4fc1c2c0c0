// The all-in-one process in embedded mode, as `pnpm start` runs it (node dist/main.js): a fresh data
// directory is initialised, migrated and seeded; a second start reuses it; SIGTERM stops everything.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { isolatedEnv, spawnEntry } from './processes.js';

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startEmbedded(dataDir: string, port: number): Started {
  const { child, output, exited } = spawnEntry(
    'dist/main.js',
    isolatedEnv({ WOOPDI_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' }),
  );
  return { child, output, exited };
}

/** Milliseconds from now until /readyz answers 200; throws after `timeoutMs` or if the process exits. */
async function untilReady(started: Started, url: string, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (started.child.exitCode !== null) throw new Error(`exited early:\n${started.output()}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return Math.round(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`/readyz never answered 200 within ${timeoutMs} ms:\n${started.output()}`);
}

/** Processes whose command line mentions `text` (the test's own `ps` excluded). */
function processesMentioning(text: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

async function stopWithin(started: Started, ms: number) {
  started.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      started.child.kill('SIGKILL');
      reject(new Error(`did not exit within ${ms} ms after SIGTERM:\n${started.output()}`));
    }, ms);
  });
  try {
    return await Promise.race([started.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function login(url: string, email: string) {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'devpass' }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { user?: { email: string }; tokens?: { accessToken: string } },
  };
}

const dataDir = mkdtempSync(join(tmpdir(), 'woopdi-embedded-'));
const running: Started[] = [];
afterAll(() => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  // A postmaster left behind by a failed run: stop it (fast shutdown) before removing its files.
  for (const line of processesMentioning(dataDir)) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    try {
      process.kill(pid, 'SIGINT');
    } catch {}
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pnpm start (embedded mode)', () => {
  it('starts on a fresh directory, seeds, serves REST, stops on SIGTERM; then starts again on the same data', async () => {
    const timings: number[] = [];
    for (const round of ['fresh', 'existing'] as const) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const started = startEmbedded(dataDir, port);
      running.push(started);
      timings.push(await untilReady(started, url));

      const res = await login(url, 'user_subscribed@user.com');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.user?.email).toBe('user_subscribed@user.com');
      expect(res.body.tokens?.accessToken).toBeTruthy();

      // The banner (printed after /readyz can already answer: give it a moment).
      await expect.poll(() => started.output(), { timeout: 10_000 }).toMatch(/Stop with Ctrl-C/);
      const banner = started.output();
      expect(banner).toContain(`API       ${url}`);
      expect(banner).toContain(`Docs      ${url}/docs`);
      expect(banner).toContain(`REST      ${url}/api`);
      expect(banner).toMatch(new RegExp(`embedded PostgreSQL at postgres://\\S+ \\(data: ${dataDir}\\)`));
      expect(banner).toMatch(/in-process event bus/);
      expect(banner).toMatch(/Demo logins.*password: devpass/);
      expect(banner).toContain('super@admin.com');
      // Seeded on the first start only: the second finds users and leaves them alone.
      expect(banner.includes('(just seeded)')).toBe(round === 'fresh');
      expect(processesMentioning(dataDir).length, 'the postmaster runs with the data dir').toBeGreaterThan(0);

      const exit = await stopWithin(started, 20_000);
      expect(exit, started.output()).toEqual({ code: 0, signal: null });
      expect(processesMentioning(dataDir), 'no postgres left behind').toEqual([]);
      expect(started.output()).not.toMatch(/Error|\n\s+at \S+ \(/);
    }
    console.log(
      `embedded start → /readyz 200: fresh data dir ${timings[0]} ms, existing data dir ${timings[1]} ms`,
    );
  }, 180_000);
});
