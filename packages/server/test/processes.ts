// Process tests: Woopdi's compiled entries (and the services a fault test owns) spawned with only
// the environment the test gives them, their output captured.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { createDb } from '@woopdi/db';

/** packages/server: where `dist/main*.js` are run from. */
export const serverDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * Set but empty, so neither the test runner's environment nor a developer's .env file (which only
 * fills variables that are not set) can supply them; the config treats empty as unset.
 */
export const BLANK_ENV: Record<string, string> = Object.fromEntries(
  [
    'DATABASE_URL',
    'POSTGRES_HOST',
    'POSTGRES_PORT',
    'POSTGRES_USER',
    'POSTGRES_PASSWORD',
    'POSTGRES_DB',
    'REDIS_URL',
    'REDIS_HOST',
    'REDIS_PORT',
    'JWT_SECRET',
    'ENCRYPTION_KEY',
    'API_HOST',
    'HOST',
    'IS_PROD',
    'WEB_CONCURRENCY',
    'CORS_ORIGINS',
    'SENDGRID_API_KEY',
    'STRIPE_SECRET_KEY',
    'STRIPE_WEBHOOK_SECRET',
    'GCP_BUCKET_NAME',
    'REPLICATE_API_TOKEN',
    'METRICS_PORT',
    'WORKER_HEARTBEAT_MS',
    'WORKER_DEAD_AFTER_MS',
  ].map((name) => [name, '']),
);

/** PATH and HOME, every variable above blank, then `env`. */
export const isolatedEnv = (env: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  ...BLANK_ENV,
  ...env,
});

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Spawned {
  child: ChildProcess;
  /** stdout and stderr as they came. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Once the process exited and its pipes are drained ('exit' can fire before; 'close' cannot). */
  exited: Promise<Exit>;
}

/**
 * Spawns `cmd` in packages/server with exactly `env` (use isolatedEnv), output captured; `keep`
 * bounds what is kept of each stream (the newest characters) for long-running processes.
 * `onExit`: `exited` resolves at 'exit', for a process whose children may hold its pipes open
 * (postgres' backends).
 */
export function spawnCaptured(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  options: { keep?: number; onExit?: boolean; uid?: number; gid?: number } = {},
): Spawned {
  const { keep = Number.POSITIVE_INFINITY, onExit = false, ...user } = options;
  const child = spawn(cmd, args, { ...user, cwd: serverDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  let stderr = '';
  const trim = (s: string) => (s.length > keep ? s.slice(-keep) : s);
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout = trim(stdout + d);
    output = trim(output + d);
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = trim(stderr + d);
    output = trim(output + d);
  });
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) =>
      onExit ? resolve({ code, signal }) : child.on('close', () => resolve({ code, signal })),
    );
  });
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `node <entry>` (e.g. dist/main-api.js) with exactly `env`. */
export const spawnEntry = (entry: string, env: Record<string, string>, options?: { keep?: number }) =>
  spawnCaptured(process.execPath, [entry], env, options);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every 50 ms until it gives a value. A probe that throws has not succeeded yet; the
 * last error is in the timeout's message (a process that exited says so there).
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    const value = await Promise.resolve()
      .then(probe)
      .catch((error: unknown) => {
        last = error;
        return undefined;
      });
    if (value) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** One REST call to `${base}/api${path}`; the body parsed as JSON when it is JSON, else its text. */
export async function restCall<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}/api${path}`, {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed as T };
}

type Sql = ReturnType<typeof createDb>['sql'];

/** The pool ids of the workers with a heartbeat row now. */
export async function heartbeatIds(sql: Sql): Promise<string[]> {
  const rows = await sql<{ worker_id: string }[]>`select worker_id from worker_heartbeats`;
  return rows.map((r) => r.worker_id);
}

/**
 * The graphile pool id a worker process that just started locks jobs with, learned from its first
 * heartbeat (an id not in `before`); fails at once if the process exits first.
 */
export function newWorkerId(
  sql: Sql,
  before: Set<string>,
  name: string,
  worker: Pick<Spawned, 'child' | 'output'>,
  ms: number,
): Promise<string> {
  return until(
    `${name}'s heartbeat`,
    async () => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null)
        throw new Error(`${name} exited:\n${worker.output()}`);
      return (await heartbeatIds(sql)).find((id) => !before.has(id));
    },
    ms,
  );
}

/** One api process (the compiled entry) on `port`, in an isolated environment. */
export interface Api {
  child: ChildProcess;
  url: string;
  output(): string;
}

export function spawnApi(env: Record<string, string>, port: number): Api {
  const { child, output } = spawnEntry('dist/main-api.js', isolatedEnv({ ...env, PORT: String(port) }));
  return { child, url: `http://127.0.0.1:${port}`, output };
}

/** Resolves once the api answers /readyz; throws with its output if it exits or takes over 45 s. */
export async function waitReady(api: Api) {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (api.child.exitCode !== null) throw new Error(`the api exited:\n${api.output()}`);
    if (
      await fetch(`${api.url}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(50);
  }
  throw new Error(`the api did not get ready:\n${api.output()}`);
}
