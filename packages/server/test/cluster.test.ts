// WEB_CONCURRENCY=2: `node dist/main-api.js` becomes a node:cluster primary with two api processes
// on one port. Which process serves a connection is read from the OS (Linux /proc): the responses
// carry nothing that tells processes apart.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers.js';
import { isolatedEnv, spawnEntry, until } from './processes.js';

const linux = existsSync('/proc/self/stat');

interface Primary {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Primary[] = [];

function startPrimary(env: Record<string, string>): Primary {
  const { child, output, exited } = spawnEntry('dist/main-api.js', isolatedEnv(env));
  const primary = { child, output, exited };
  started.push(primary);
  return primary;
}

async function exitWithin(p: Primary, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`the primary did not exit within ${ms} ms:\n${p.output()}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/** The live child processes of `pid` (from /proc/<pid>/stat's ppid field). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') children.push(Number(name));
    } catch {} // gone meanwhile
  }
  return children;
}

/** Socket inodes of established TCP connections whose local port is `port`. */
function establishedOn(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (!local || fields[3] !== '01') continue; // 01: ESTABLISHED
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(fields[9]!);
    }
  }
  return inodes;
}

/** How many of the established connections on `port` each process holds. */
function connectionsHeld(pids: number[], port: number): Map<number, number> {
  const established = establishedOn(port);
  const held = new Map<number, number>();
  for (const pid of pids) {
    let n = 0;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (established.has(target.replace(/^socket:\[(\d+)\]$/, '$1'))) n++;
      } catch {}
    }
    held.set(pid, n);
  }
  return held;
}

/** Opens a connection, gets one answer to GET /healthz over it, and keeps it open (keep-alive). */
function openAnswered(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    });
    socket.setEncoding('utf8');
    let answer = '';
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\r\n\r\n')) resolve(socket);
    });
    socket.once('error', reject);
  });
}

describe.runIf(linux)('WEB_CONCURRENCY=2: two api processes on one port (node:cluster)', () => {
  let deps: TestDeps;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    deps = await createTestDeps();
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const p of started) {
      for (const pid of p.child.pid ? childrenOf(p.child.pid) : []) process.kill(pid, 'SIGKILL');
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
    await deps?.close();
  });

  it('both serve the port, a crashed one is replaced, and SIGTERM stops all gracefully with exit 0', async () => {
    const port = await freePort();
    const primary = startPrimary({
      DATABASE_URL: deps.databaseUrl,
      PORT: String(port),
      WEB_CONCURRENCY: '2',
      LOG_LEVEL: 'info',
      JWT_SECRET: 'cluster-test-jwt-value-0123456789abcdef',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    const primaryPid = primary.child.pid!;
    const running = () => {
      if (primary.child.exitCode !== null) throw new Error(`the primary exited:\n${primary.output()}`);
    };

    // Both processes answer: connections are spread over them (round-robin from the primary), so
    // opening a few shows each one holding some, once both listen.
    const held = await until(
      'both api processes to hold connections on the port',
      async () => {
        running();
        const children = childrenOf(primaryPid);
        if (children.length !== 2) return false;
        const batch = await Promise.all([1, 2, 3, 4].map(() => openAnswered(port).catch(() => undefined)));
        sockets.push(...batch.filter((s): s is Socket => !!s));
        const counts = connectionsHeld(children, port);
        return [...counts.values()].every((n) => n > 0) && counts;
      },
      45_000,
    );
    expect([...held.keys()].sort()).toEqual(childrenOf(primaryPid).sort());
    // The primary itself serves nothing: it holds no connection of its own.
    expect(connectionsHeld([primaryPid], port).get(primaryPid)).toBe(0);
    for (const s of sockets.splice(0)) s.destroy();

    // One dies unexpectedly: the primary logs it and forks a replacement.
    const [victim, survivor] = [...held.keys()] as [number, number];
    process.kill(victim, 'SIGKILL');
    const replaced = await until('a replacement api process', () => {
      running();
      const children = childrenOf(primaryPid);
      return children.length === 2 && !children.includes(victim) && children.includes(survivor) && children;
    });
    // The log line may reach the pipe a moment after the fork (the logger writes asynchronously).
    const died = new RegExp(
      `api process ${victim} exited unexpectedly \\(signal SIGKILL\\); starting a replacement`,
    );
    await until('the primary to log the death', () => died.test(primary.output()));
    await until('the replacement to serve', async () => {
      running();
      const socket = await openAnswered(port).catch(() => undefined);
      if (!socket) return false;
      sockets.push(socket);
      return (connectionsHeld(replaced, port).get(replaced.find((pid) => pid !== survivor)!) ?? 0) > 0;
    });
    for (const s of sockets.splice(0)) s.destroy();

    primary.child.kill('SIGTERM');
    const exit = await exitWithin(primary, 15_000);
    expect(exit, primary.output()).toEqual({ code: 0, signal: null });
    // Each api process ran its own graceful shutdown, and none outlives the primary.
    expect(primary.output().match(/"msg":"shutting down"/g)?.length).toBeGreaterThanOrEqual(3);
    for (const pid of replaced) expect(alive(pid), `api process ${pid} still runs`).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 90_000);

  it('exits 1, without forking again and again, when the api processes cannot start', async () => {
    // The port is taken: every api process would fail the same way.
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '0.0.0.0', resolve));
    try {
      const primary = startPrimary({
        DATABASE_URL: deps.databaseUrl,
        PORT: String(port),
        WEB_CONCURRENCY: '2',
        LOG_LEVEL: 'info',
        JWT_SECRET: 'cluster-test-jwt-value-0123456789abcdef',
      });
      const exit = await exitWithin(primary, 30_000);
      expect(exit.code, primary.output()).toBe(1);
      expect(primary.output()).toMatch(/api process \d+ failed to start/);
      expect(primary.output()).not.toMatch(/starting a replacement/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }, 45_000);
});
