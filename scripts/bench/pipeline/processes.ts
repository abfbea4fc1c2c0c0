// Shared by `pnpm bench:tasks` and `pnpm bench:fanout`: Woopdi's api and worker as service-mode
// processes (the compiled runtime when it is built), the baselines' processes, a scratch database,
// and what a process costs (/proc). Every process is started with its open-files limit raised to
// the hard limit (10,000 sockets need more than the usual 1,024).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { migrate } from '@woopdi/db';
import postgres from 'postgres';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const here = fileURLToPath(new URL('.', import.meta.url));

export const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const JWT_SECRET = 'bench-only-jwt-key-Zq8fX2kLm9vR4tYw7nB3cJ6hD1sA5gE0';

export const intEnv = (name: string, fallback: number) => {
  const raw = process.env[name];
  const v = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(v) && v >= 0 ? v : fallback;
};

export { createRedis, type RedisClient } from './redis.js';

// --- which runtime -------------------------------------------------------------------------------

export interface Entry {
  args: string[];
  /** node on the build output (production), or the TypeScript sources through tsx. */
  compiled: boolean;
}

/**
 * The one place a benchmark picks how Woopdi runs: `node packages/server/dist/main-<role>.js` when the
 * compiled runtime is built (brought up to date first, as `pnpm start` does), else the sources:
 * `node --import tsx packages/server/src/main-<role>.ts`. BENCH_SOURCE=1 forces the sources.
 */
export function woopdiEntry(role: 'api' | 'worker'): Entry {
  const compiled = `${repo}packages/server/dist/main-${role}.js`;
  if (process.env.BENCH_SOURCE !== '1' && existsSync(compiled)) {
    ensureBuilt();
    return { args: [compiled], compiled: true };
  }
  return {
    args: ['--conditions=@woopdi/source', '--import', 'tsx', `${repo}packages/server/src/main-${role}.ts`],
    compiled: false,
  };
}

let built = false;
function ensureBuilt() {
  const script = `${repo}packages/server/scripts/build-if-stale.mjs`;
  if (built || !existsSync(script)) return;
  built = true;
  // A stale dist/ would measure yesterday's code.
  const result = spawnSync(process.execPath, [script], { cwd: `${repo}packages/server`, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('the compiled runtime could not be built (pnpm build)');
}

// --- processes -----------------------------------------------------------------------------------

/** `node …args` with the open-files limit raised as far as the hard limit allows. */
export function spawnNode(
  args: string[],
  env: Record<string, string>,
  stdout: 'pipe' | 'ignore' = 'pipe',
): ChildProcess {
  return spawn(
    '/bin/sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args],
    { cwd: repo, env: { ...process.env, ...env }, stdio: ['pipe', stdout, 'inherit'] },
  );
}

/** Resolves with the first stdout line matching `pattern` (the rest of the output is drained). */
export async function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onExit = (code: number | null) => reject(new Error(`process exited (${code}) before ${pattern}`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      if (!pattern.test(line)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(line);
    });
  });
}

export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in bytes. */
export function memoryOf(pid: number): { peak: number; current: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), current: kb('VmRSS') };
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

// --- a scratch database --------------------------------------------------------------------------

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A new database on the bench's PostgreSQL; `migrated` applies Woopdi's migrations. */
export async function scratchDatabase(label: string, migrated: boolean): Promise<ScratchDatabase> {
  const name = `woopdi_bench_${label}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  if (migrated) await migrate(url.toString());
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

// --- Woopdi in service mode ----------------------------------------------------------------------

export interface WoopdiEnv {
  databaseUrl: string;
  port: number;
  extra?: Record<string, string>;
}

export const woopdiEnv = ({ databaseUrl, port, extra }: WoopdiEnv): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl,
  JWT_SECRET,
  PORT: String(port),
  HOST: '127.0.0.1',
  WEB_CONCURRENCY: '1',
  IS_PROD: 'false',
  NODE_ENV: 'production',
  ACCESS_TOKEN_TTL_SECONDS: '86400',
  RATE_LIMIT_SIGNUP: '1000/60',
  // The benches start thousands of tasks in one organization: the task quotas are not measured here.
  RATE_LIMIT_TASK_STARTS: '1000000/60',
  PLAN_FREE_CONCURRENT_TASKS: '10000',
  ...extra,
});

/** BENCH_PROFILE=DIR: each Woopdi process (and the raw ws server) writes a V8 CPU profile there when it stops. */
export const profileArgs = () =>
  process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];

/** One api process; resolves once /readyz answers. */
export async function startApi(env: WoopdiEnv, entry = woopdiEntry('api')): Promise<ChildProcess> {
  const child = spawnNode(
    [...profileArgs(), ...entry.args],
    { ...woopdiEnv(env), LOG_LEVEL: 'warn' },
    'ignore',
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the api process exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${env.port}/readyz`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the api process did not become ready within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One worker process; resolves once it says it is running. */
export async function startWorkerProcess(
  env: WoopdiEnv,
  entry = woopdiEntry('worker'),
): Promise<ChildProcess> {
  const child = spawnNode([...profileArgs(), ...entry.args], { ...woopdiEnv(env), LOG_LEVEL: 'info' });
  await waitForLine(child, /Woopdi worker running/);
  return child;
}

/** A user with a team organization, through the REST API: its access token and organization id. */
export async function seedAccount(base: string): Promise<{ token: string; organizationId: string }> {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const signup = await fetch(`${base}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery staple', name: 'Bench' }),
  });
  if (!signup.ok) throw new Error(`signup: ${signup.status} ${await signup.text()}`);
  const { tokens } = (await signup.json()) as { tokens: { accessToken: string } };
  const org = await fetch(`${base}/api/organizations/create-organization`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.accessToken}` },
    body: JSON.stringify({ name: 'Bench' }),
  });
  if (!org.ok) throw new Error(`create organization: ${org.status} ${await org.text()}`);
  const { id } = (await org.json()) as { id: string };
  return { token: tokens.accessToken, organizationId: id };
}

// --- figures -------------------------------------------------------------------------------------

export const quantile = (values: number[], q: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
export const ms = (v: number) => `${v.toFixed(2)} ms`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Prints rows as an aligned text table. */
export function table(header: string[], rows: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/**
 * CPU ticks (user + system) used so far, per pid, of the processes of each role: a role is a pid
 * (one process) or a command name (every process of that name: all of PostgreSQL's backends).
 */
export function cpuSnapshot(
  roles: Record<string, number | string>,
): Map<number, { role: string; ticks: number }> {
  const byPid = new Map<number, string>();
  const byName = new Map<string, string>();
  for (const [role, who] of Object.entries(roles)) {
    if (typeof who === 'number') byPid.set(who, role);
    else byName.set(who, role);
  }
  const out = new Map<number, { role: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const role = byPid.get(pid) ?? byName.get(stat.slice(stat.indexOf('(') + 1, close));
      if (!role) continue;
      const fields = stat.slice(close + 2).split(' ');
      out.set(pid, { role, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {} // gone meanwhile
  }
  return out;
}

/** CPU milliseconds per role between two snapshots (a process started in between counts from 0). */
export function cpuBetween(
  before: ReturnType<typeof cpuSnapshot>,
  after: ReturnType<typeof cpuSnapshot>,
): Record<string, number> {
  const ms: Record<string, number> = {};
  for (const [pid, { role, ticks }] of after) {
    ms[role] = (ms[role] ?? 0) + ((ticks - (before.get(pid)?.ticks ?? 0)) * 1000) / CLK_TCK;
  }
  return ms;
}
