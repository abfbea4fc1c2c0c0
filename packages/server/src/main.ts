// The all-in-one process (`pnpm start`): API and worker in one process. Without DATABASE_URL it
// runs an embedded PostgreSQL in <repo>/.data/postgres (or $WOOPDI_DATA_DIR), migrates it and seeds
// the demo world into an empty database; with DATABASE_URL it migrates that database and uses it.
import './heap-tuning.js'; // first: before the other modules allocate
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_PASSWORD, demoLogins, seedDemoWorld } from '@woopdi/api';
import {
  type Config,
  ConfigError,
  createLogger,
  describeStorage,
  loadConfig,
  withWebClientUrl,
} from '@woopdi/core';
import { migrate } from '@woopdi/db';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@woopdi/db/embedded';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import { loadEnvFile } from './env-file.js';
import { type ApiServer, startApiServer } from './http-server.js';
import { createRuntime, type Runtime } from './runtime.js';
import { onShutdownSignal } from './shutdown.js';
import { findWebApp } from './web-app.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

let config: Config;
try {
  loadEnvFile();
  config = loadConfig();
  if (!config.databaseUrl && config.isProd) {
    throw new ConfigError(
      'DATABASE_URL is not set: with IS_PROD=true Woopdi needs a real PostgreSQL (the embedded database and its demo users are for development only).',
    );
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`woopdi: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

/** The web app's build (`pnpm start` makes it when missing or stale): served at `/`. */
const webAppDir = findWebApp(resolve(repoRoot, 'packages/web/dist'));
/** This process's own address as a browser on this machine reaches it. */
const ownUrl = () => {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
};
// Serving the app itself, the emails' links open it here unless WEB_CLIENT_URL says otherwise.
if (webAppDir) config = withWebClientUrl(config, config.apiHost ?? ownUrl());

const logger = createLogger({ level: config.logLevel });
if (config.webConcurrency > 1) {
  logger.warn(
    'WEB_CONCURRENCY applies to the service-mode api (start:api): the all-in-one process runs one api',
  );
}

/** The embedded cluster's directory: $WOOPDI_DATA_DIR (relative to where the command was run), else .data/postgres. */
function embeddedDataDir(): string {
  const configured = process.env.WOOPDI_DATA_DIR?.trim();
  // pnpm runs the script in packages/server; INIT_CWD is the directory `pnpm start` was typed in.
  return configured
    ? resolve(process.env.INIT_CWD ?? process.cwd(), configured)
    : resolve(repoRoot, '.data/postgres');
}

const redact = (url: string) => {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
};

let embedded: EmbeddedPostgres | undefined;
let runtime: Runtime | undefined;
let api: ApiServer | undefined;
let worker: WorkerHandle | undefined;
let stopping: Promise<void> | undefined;
/** Set by SIGTERM/SIGINT: start-up skips its remaining steps. */
let shutdownRequested = false;

/** Stops what has started, in order (API, worker, runtime, database); every step runs even if one fails. */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    const steps: Array<[string, (() => Promise<void>) | undefined]> = [
      ['api', api && (() => api!.stop())],
      ['worker', worker && (() => worker!.stop())],
      ['runtime', runtime && (() => runtime!.close())],
      ['embedded postgres', embedded && (() => embedded!.stop())],
    ];
    let failed: unknown;
    for (const [name, stop] of steps) {
      if (!stop) continue;
      try {
        await stop();
      } catch (err) {
        logger.error({ err }, `stopping the ${name} failed`);
        failed ??= err;
      }
    }
    if (failed) throw failed;
  })();
  return stopping;
}

async function start(): Promise<void> {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const dataDir = embeddedDataDir();
    embedded = await startEmbeddedPostgres({
      dataDir,
      logger: logger.child({ component: 'embedded-postgres' }),
    });
    databaseUrl = embedded.url;
  }
  if (shutdownRequested) return;
  await migrate(databaseUrl, { migrationsFolder: config.migrationsDir });
  runtime = createRuntime(config, databaseUrl, logger);
  const db = runtime.dbHandle.db;

  let seeded = false;
  if (embedded) {
    const [anyUser] = await runtime.dbHandle.sql`select 1 from users limit 1`;
    if (!anyUser) {
      await seedDemoWorld({ db, logger });
      seeded = true;
    }
  }
  if (shutdownRequested) return;

  api = await startApiServer(runtime, { webAppDir });
  if (shutdownRequested) return;
  worker = await startWorker({
    databaseUrl,
    db,
    config,
    logger: runtime.logger,
    bus: runtime.bus,
    storage: runtime.storage,
  });
  if (shutdownRequested) return;

  const demoEmails = demoLogins.map((l) => l.email);
  const demoUsers = await runtime.dbHandle.sql<{ email: string }[]>`
    select email from users where email = any(${demoEmails})`;
  printBanner(api, databaseUrl, seeded, new Set(demoUsers.map((u) => u.email)));
}

function printBanner(server: ApiServer, databaseUrl: string, seeded: boolean, present: Set<string>): void {
  const base = config.apiHost ?? server.url;
  const width = Math.max(...demoLogins.map((l) => l.email.length)) + 2;
  const lines = [
    '',
    `Woopdi is running (${embedded ? 'embedded mode' : 'all-in-one, external PostgreSQL'})`,
    webAppDir
      ? `  App       ${config.webClientUrl}/`
      : '  App       not built (pnpm --filter @woopdi/web build; pnpm start builds it)',
    `  API       ${base}`,
    `  Docs      ${base}/docs`,
    `  REST      ${base}/api`,
    `  tRPC      ${base}/trpc`,
    embedded
      ? `  Database  embedded PostgreSQL at ${embedded.url} (data: ${embedded.dataDir})`
      : `  Database  PostgreSQL at ${redact(databaseUrl)}`,
    `  Events    ${runtime!.bus.kind === 'redis' ? 'Redis event bus' : 'in-process event bus (set REDIS_URL for Redis)'}`,
    `  Mail      ${config.sendgrid ? 'SendGrid' : 'outbox: emails are logged with their links (set SENDGRID_API_KEY to send)'}`,
    `  Files     ${describeStorage(runtime!.storage)}`,
  ];
  const logins = demoLogins.filter((l) => present.has(l.email));
  if (logins.length > 0) {
    lines.push('', `Demo logins${seeded ? ' (just seeded)' : ''}, password: ${DEMO_PASSWORD}`);
    for (const login of logins) lines.push(`  ${login.email.padEnd(width)}${login.role}`);
  }
  lines.push('', 'Stop with Ctrl-C.', '');
  console.log(lines.join('\n'));
}

const startup = start();
onShutdownSignal(logger, async () => {
  shutdownRequested = true;
  console.log('woopdi: stopping…');
  await startup.catch(() => {}); // a signal during start-up: let its current step finish, then stop
  await stopAll();
});
startup.catch(async (error: unknown) => {
  if (shutdownRequested) return; // the signal handler stops what started and exits
  if (error instanceof ConfigError) {
    console.error(`woopdi: ${error.message}`);
  } else if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
    console.error(
      `woopdi: port ${config.port} is already in use: stop what uses it, or set PORT to another port.`,
    );
  } else {
    console.error(`woopdi: start-up failed: ${(error as Error)?.message ?? String(error)}`);
    logger.debug({ err: error }, 'start-up failed'); // the stack, with LOG_LEVEL=debug
  }
  await stopAll().catch(() => {});
  process.exit(1);
});
