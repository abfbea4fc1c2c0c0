// @woopdi/worker: runs graphile-worker with Woopdi's typed task list. The host process (server's
// main-worker.ts, or the embedded all-in-one mode) owns signals, migrations and the shared runtime.

import { EventEmitter } from 'node:events';
import {
  type Config,
  createLogTransport,
  createSendGridTransport,
  createStripe,
  type EventBus,
  type HostResolver,
  type Logger,
  type MailTransport,
  type Storage,
  type Stripe,
} from '@woopdi/core';
import type { Db } from '@woopdi/db';
import { type CronItem, parseCronItems, type Runner, run, type WorkerEvents } from 'graphile-worker';
import { createGraphileLogger } from './graphile-logger.js';
import { defaultLiveness, type Liveness, startHeartbeat } from './heartbeat.js';
import { kindDefinitions } from './kinds/index.js';
import { createTaskList, type KindDefinitions } from './tasks/index.js';

export { createGraphileLogger } from './graphile-logger.js';
export { defaultLiveness, type Liveness, reapDeadWorkers } from './heartbeat.js';
export * from './kinds/index.js';
export { createReporter, TaskCancelled, TaskFailed, type TaskReporter } from './task-runtime.js';
export * from './tasks/index.js';

export interface WorkerOptions {
  /** The database holding the job queue (graphile-worker opens its own pool on it). */
  databaseUrl: string;
  db: Db;
  config: Config;
  logger: Logger;
  bus: EventBus;
  /** File storage (the runtime's: local disk or GCS). */
  storage: Storage;
  /** Overrides the transport chosen from the config (SendGrid when configured, else the dev outbox). */
  mailTransport?: MailTransport;
  /** Overrides the Stripe client built from the config (tests point one at a local fake). */
  stripe?: Stripe;
  /** Jobs run at once by this process; default config.workerConcurrency (WORKER_CONCURRENCY, 16). */
  concurrency?: number;
  /** Jobs fetched ahead per query (graphile's local queue, 0 = off); default config.workerLocalQueue. */
  localQueue?: number;
  /**
   * Milliseconds between polls for jobs that became due (retries, run_at); default graphile's 2000.
   * New jobs do not wait for it: graphile-worker LISTENs for `jobs:insert` and an idle worker takes
   * the job at once.
   */
  pollInterval?: number;
  /** Replaces the handlers of some task kinds (tests inject failing or slow ones). */
  kinds?: Partial<KindDefinitions>;
  /** Heartbeat and dead-worker detection; see heartbeat.ts. */
  liveness?: Partial<Liveness>;
  /** How webhook target hosts are resolved; default the system resolver (tests inject one). */
  webhookResolver?: HostResolver;
}

export interface WorkerHandle {
  runner: Runner;
  /**
   * Stops taking jobs and waits for running ones to finish, at most config.shutdownTimeoutMs; then
   * unfinished jobs are released for another worker. Idempotent.
   */
  stop(): Promise<void>;
}

/** SendGrid when SENDGRID_API_KEY is set, else the outbox transport (a log line; the link only outside production). */
export function createMailTransport(config: Config, logger: Logger): MailTransport {
  return config.sendgrid
    ? createSendGridTransport({ apiKey: config.sendgrid.apiKey, from: config.sendgrid.fromEmail })
    : createLogTransport(logger, { showLinks: !config.isProd });
}

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const logger = options.logger.child({ component: 'worker' });
  const mailTransport = options.mailTransport ?? createMailTransport(options.config, logger);
  const stripe = options.stripe ?? (options.config.stripe ? createStripe(options.config.stripe) : undefined);
  const taskList = createTaskList({
    db: options.db,
    config: options.config,
    logger,
    bus: options.bus,
    mailTransport,
    storage: options.storage,
    ...(stripe && { stripe }),
    kinds: { ...kindDefinitions, ...options.kinds } as KindDefinitions,
    ...(options.webhookResolver && { webhookResolver: options.webhookResolver }),
  });
  // Our own emitter, passed in, so no pool:create is missed while run() starts the pool.
  const events: WorkerEvents = new EventEmitter();
  const workerIds = new Set<string>();
  // graphile-worker 0.17 locks jobs (`locked_by`) in the name of the worker *pool*, not of the
  // individual workers: the pool id is the one that must heartbeat.
  events.on('pool:create', ({ workerPool }) => void workerIds.add(workerPool.id));
  const cronItems: CronItem[] = [
    // Hourly: stale pending uploads and the files of deleted organizations.
    { task: 'assets_cleanup', match: '0 * * * *' },
  ];
  if (stripe) cronItems.push({ task: 'billing_reconcile', match: '0 3 * * *' });
  const concurrency = options.concurrency ?? options.config.workerConcurrency;
  // Smaller than the concurrency, graphile's batches would leave slots idle (it warns): never less.
  const requestedLocalQueue = options.localQueue ?? options.config.workerLocalQueue;
  const localQueue = requestedLocalQueue > 0 ? Math.max(requestedLocalQueue, concurrency) : 0;
  const runner = await run({
    events,
    connectionString: options.databaseUrl,
    concurrency,
    // One connection per running job (getJob, completeJob), plus the LISTEN client and cron: with
    // fewer, jobs queue for a connection before they start.
    maxPoolSize: concurrency + 2,
    pollInterval: options.pollInterval, // graphile ignores undefined options (default 2000 ms)
    noHandleSignals: true,
    logger: createGraphileLogger(logger),
    taskList,
    // Given explicitly: without it graphile-worker would read a `crontab` file from the cwd.
    // Nightly billing reconciliation only when Stripe is configured.
    parsedCronItems: parseCronItems(cronItems),
    // Batched (delay 0: next tick) completion and failure. With graphile-worker 0.17.3's default (-1,
    // unbatched) the completion of a job that finishes during graceful shutdown is not awaited and is
    // lost when the pool closes: the job stays locked for 4 hours. Batchers are drained on shutdown.
    // A local queue fetches up to `localQueue` jobs in one query and hands them to free slots: a
    // backlog drains without one getJob round trip per job. Fetched jobs are locked by the pool id,
    // so the heartbeat covers them like running ones, and a stopping pool returns them.
    preset: {
      worker: {
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
        ...(localQueue > 0 && { localQueue: { size: localQueue } }),
      },
    },
  });
  const heartbeat = startHeartbeat(options.db, logger, () => [...workerIds], {
    ...defaultLiveness,
    ...options.config.workerLiveness,
    ...options.liveness,
  });
  // A runner that dies by itself (lost database, fatal error) must be visible, not an unhandled rejection.
  runner.promise.catch((err: unknown) => logger.error({ err }, 'job runner stopped with an error'));

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    const graceful = runner.stop().catch((err: unknown) => {
      // Already stopped by itself (see runner.promise above): nothing left to stop.
      if (err instanceof Error && /already stopped/.test(err.message)) return;
      throw err;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), options.config.shutdownTimeoutMs);
      timer.unref();
    });
    try {
      if ((await Promise.race([graceful.then(() => 'done' as const), timedOut])) === 'timeout') {
        logger.warn(
          { timeoutMs: options.config.shutdownTimeoutMs },
          'jobs still running at the shutdown deadline; releasing them for another worker',
        );
        await runner.kill('shutdown deadline reached');
      }
    } finally {
      clearTimeout(timer);
      await heartbeat.stop();
    }
  };
  return {
    runner,
    stop: () => {
      stopping ??= stop();
      return stopping;
    },
  };
}
