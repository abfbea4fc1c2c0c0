// `pnpm bench:tasks` (or `pnpm exec tsx scripts/bench/tasks.ts`): what the task pipeline costs on
// top of graphile-worker, measured in one run against a fresh database, the real Redis bus, an
// in-process API (the tRPC router through its gates, no HTTP) and an in-process worker.
//
//   (c) raw graphile-worker: addJob → handler start, 200 jobs one at a time (a trivial task, its own
//       run() on the same database, before the Woopdi worker starts).
//   (a) tasks.start returning → first event at a subscribed client (tasks.events, which subscribes to
//       the bus, then backfills from task_events: an event that beat the subscription still counts),
//       200 one-step tasks one at a time.
//   (b) throughput: 2,000 one-step tasks (intervalMs 10) started by 16 concurrent clients, each task
//       followed by 4 subscribers (8,000 tasks.events streams); from the first start to the last
//       task_end received by a subscriber. Every stream is checked to receive seq 1..3 in order.
//
// Environment: TEST_DATABASE_URL (where to create databases, as for the tests; default
// postgres://postgres@127.0.0.1:5432/postgres: a database woopdi_bench_* is created, migrated and
// dropped), REDIS_URL (default redis://127.0.0.1:6379).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { appRouter, createAccessTokens, createCallerFactory } from '@woopdi/api';
import {
  createLocalStorage,
  createLogger,
  createRateLimits,
  createRedisBus,
  isTerminalEvent,
  loadConfig,
  type TaskEvent,
} from '@woopdi/core';
import { createDb, migrate } from '@woopdi/db';
import { startWorker } from '@woopdi/worker';
import * as graphile from 'graphile-worker';

const intEnv = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= 0 && process.env[name] !== '' ? v : fallback;
};
// The defaults are the documented benchmark; the variables only serve quick experiments.
const LATENCY_TASKS = intEnv('BENCH_LATENCY_TASKS', 200);
const WARMUP = 20;
const THROUGHPUT_TASKS = intEnv('BENCH_TASKS', 2_000);
const SUBSCRIBERS_PER_TASK = intEnv('BENCH_SUBSCRIBERS', 4);
const STARTERS = intEnv('BENCH_STARTERS', 16);
const WORKER_CONCURRENCY = 10;
const POLL_INTERVAL_MS = 50;

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
const ms = (v: number) => `${v.toFixed(2)} ms`;

function withDatabase(url: string, database: string) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function main() {
  const dbName = `woopdi_bench_${randomBytes(4).toString('hex')}`;
  const admin = createDb(adminUrl, { max: 1 });
  await admin.sql.unsafe(`create database "${dbName}"`);
  const databaseUrl = withDatabase(adminUrl, dbName);
  const cleanup: Array<() => Promise<unknown>> = [
    async () => {
      await admin.sql.unsafe(`drop database if exists "${dbName}" with (force)`);
      await admin.close();
    },
  ];
  try {
    await migrate(databaseUrl);
    const [row] = await admin.sql<{ version: string }[]>`select current_setting('server_version') as version`;
    const version = row?.version ?? 'unknown';

    const config = loadConfig({
      LOG_LEVEL: 'silent',
      JWT_SECRET: 'bench-jwt-secret-0123456789-0123456789-0123',
      RATE_LIMIT_SIGNUP: '1000/3600',
      REDIS_URL: redisUrl,
    });
    const logger = createLogger({ level: 'silent' });
    const prefix = `bench:${randomBytes(4).toString('hex')}:`;
    const apiDb = createDb(databaseUrl, { max: 20 });
    const workerDb = createDb(databaseUrl, { max: 15 });
    const apiBus = createRedisBus({ url: redisUrl, prefix });
    const workerBus = createRedisBus({ url: redisUrl, prefix });
    const rateLimits = createRateLimits({ redisUrl, prefix: `${prefix}rl:`, rules: config.rateLimits });
    const storageDir = await mkdtemp(join(tmpdir(), 'woopdi-bench-files-'));
    const storage = createLocalStorage({
      dir: storageDir,
      signingSecret: config.jwt.secret,
      publicUrl: 'http://localhost:0',
    });
    cleanup.unshift(async () => {
      await Promise.allSettled([apiBus.close(), workerBus.close(), rateLimits.close()]);
      await Promise.allSettled([apiDb.close(), workerDb.close()]);
      await rm(storageDir, { recursive: true, force: true });
    });
    const deps = {
      db: apiDb.db,
      config,
      logger,
      accessTokens: await createAccessTokens(config.jwt),
      bus: apiBus,
      rateLimits,
      storage,
    };
    const createCaller = createCallerFactory(appRouter);
    const callerFor = (accessToken: string | null) =>
      createCaller({ ...deps, accessToken, requestId: 'bench', ip: '127.0.0.1', userAgent: 'bench' });

    const { tokens } = await callerFor(null).auth.signup({
      email: `bench-${randomBytes(4).toString('hex')}@example.test`,
      password: 'correct horse battery',
    });
    const api = callerFor(tokens.accessToken);
    const org = await api.organizations.create({ name: 'Bench' });
    const oneStep = {
      organizationId: org.id,
      kind: 'example_streaming' as const,
      input: { steps: 1, intervalMs: 10 },
    };

    /** Follows a task through tasks.events; resolves with the arrival times and the seqs received. */
    const follow = async (taskId: string, t0: number) => {
      const stream = (await api.tasks.events({ taskId })) as AsyncIterable<unknown>;
      const seqs: number[] = [];
      let first = Number.NaN;
      let last = Number.NaN;
      for await (const item of stream) {
        // Through createCaller a tracked event is the raw tuple [id, data, null].
        const event = (Array.isArray(item) ? item[1] : (item as { data: unknown }).data) as TaskEvent;
        const now = performance.now();
        if (seqs.length === 0) first = now - t0;
        seqs.push(event.seq);
        if (isTerminalEvent(event.type)) {
          last = now;
          if (event.type !== 'task_end')
            throw new Error(`task ${taskId} ended with ${event.type}: ${event.message}`);
          break;
        }
      }
      return { first, last, seqs };
    };

    // (c) raw graphile-worker, alone on the database.
    const graphileLogger = new graphile.Logger(() => () => {});
    const started = new Map<number, (at: number) => void>();
    const runner = await graphile.run({
      connectionString: databaseUrl,
      concurrency: WORKER_CONCURRENCY,
      pollInterval: POLL_INTERVAL_MS,
      noHandleSignals: true,
      logger: graphileLogger,
      parsedCronItems: [],
      taskList: {
        bench_noop: async (payload) => {
          started.get((payload as { i: number }).i)?.(performance.now());
        },
      },
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
    const utils = await graphile.makeWorkerUtils({ connectionString: databaseUrl, logger: graphileLogger });
    const rawFromCall: number[] = [];
    const rawFromReturn: number[] = [];
    for (let i = 0; i < WARMUP + LATENCY_TASKS; i++) {
      const at = new Promise<number>((resolve) => started.set(i, resolve));
      const t0 = performance.now();
      await utils.addJob('bench_noop', { i });
      const t1 = performance.now();
      const t = await at;
      if (i >= WARMUP) {
        rawFromCall.push(t - t0);
        rawFromReturn.push(t - t1);
      }
    }
    await utils.release();
    await runner.stop();

    // The Woopdi worker.
    const worker = await startWorker({
      databaseUrl,
      db: workerDb.db,
      config,
      logger,
      bus: workerBus,
      storage,
      concurrency: WORKER_CONCURRENCY,
      pollInterval: POLL_INTERVAL_MS,
    });
    cleanup.unshift(() => worker.stop());

    // (a) start → first event at a subscribed client, one task at a time.
    const firstEvent: number[] = [];
    const startCall: number[] = [];
    const toEnd: number[] = [];
    for (let i = 0; i < WARMUP + LATENCY_TASKS; i++) {
      const s0 = performance.now();
      const { taskId } = await api.tasks.start(oneStep);
      const t0 = performance.now();
      const { first, last, seqs } = await follow(taskId, t0);
      if (seqs.join() !== '1,2,3') throw new Error(`task ${taskId}: seqs ${seqs.join()}`);
      if (i >= WARMUP) {
        startCall.push(t0 - s0);
        firstEvent.push(first);
        toEnd.push(last - t0);
      }
    }

    /** Starts `n` tasks from STARTERS concurrent clients; `onStarted` runs after each start returns. */
    const startMany = async (n: number, onStarted: (taskId: string) => void) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: STARTERS }, async () => {
          while (next < n) {
            next++;
            onStarted((await api.tasks.start(oneStep)).taskId);
          }
        }),
      );
    };
    const succeeded = async () =>
      (await apiDb.sql<{ n: number }[]>`select count(*)::int as n from tasks where status = 'succeeded'`)[0]!
        .n;

    // (b0) the same load without subscribers: the pipeline alone (completion polled every 20 ms).
    const before = await succeeded();
    const n0 = performance.now();
    await startMany(THROUGHPUT_TASKS, () => {});
    while ((await succeeded()) < before + THROUGHPUT_TASKS) await new Promise((r) => setTimeout(r, 20));
    const seconds0 = (performance.now() - n0) / 1000;

    // (b) throughput with 4 subscribers per task.
    const streams: Array<Promise<{ last: number; seqs: number[] }>> = [];
    const b0 = performance.now();
    await startMany(THROUGHPUT_TASKS, (taskId) => {
      const t0 = performance.now();
      for (let s = 0; s < SUBSCRIBERS_PER_TASK; s++) streams.push(follow(taskId, t0));
    });
    const allStarted = performance.now();
    const results = await Promise.all(streams);
    const bLast = Math.max(...results.map((r) => r.last));
    const incomplete = results.filter((r) => r.seqs.join() !== '1,2,3').length;
    if (incomplete > 0)
      throw new Error(`${incomplete} of ${results.length} streams did not receive seq 1..3 in order`);
    const seconds = (bLast - b0) / 1000;

    const rows: Array<[string, string, string]> = [
      [
        `(c) raw graphile addJob returned → handler start (${LATENCY_TASKS} jobs)`,
        ms(quantile(rawFromReturn, 0.5)),
        ms(quantile(rawFromReturn, 0.95)),
      ],
      [
        `    raw graphile addJob called → handler start`,
        ms(quantile(rawFromCall, 0.5)),
        ms(quantile(rawFromCall, 0.95)),
      ],
      [
        `(a) tasks.start returned → first event at subscriber (${LATENCY_TASKS} tasks)`,
        ms(quantile(firstEvent, 0.5)),
        ms(quantile(firstEvent, 0.95)),
      ],
      [
        `    tasks.start call (validate, insert + add_job in one tx)`,
        ms(quantile(startCall, 0.5)),
        ms(quantile(startCall, 0.95)),
      ],
      [
        `    tasks.start returned → task_end at subscriber (1 step of 10 ms)`,
        ms(quantile(toEnd, 0.5)),
        ms(quantile(toEnd, 0.95)),
      ],
      [
        'ratio (a) / (c) (from addJob returned)',
        `${(quantile(firstEvent, 0.5) / quantile(rawFromReturn, 0.5)).toFixed(2)}×`,
        `${(quantile(firstEvent, 0.95) / quantile(rawFromReturn, 0.95)).toFixed(2)}×`,
      ],
      [
        'ratio (a) / (c) (from addJob called)',
        `${(quantile(firstEvent, 0.5) / quantile(rawFromCall, 0.5)).toFixed(2)}×`,
        `${(quantile(firstEvent, 0.95) / quantile(rawFromCall, 0.95)).toFixed(2)}×`,
      ],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\nWoopdi task pipeline benchmark — node ${process.version}, ${cpus().length} cores, PostgreSQL ${version}, Redis bus ${redisUrl}`,
    );
    console.log(
      `worker concurrency ${WORKER_CONCURRENCY}, pollInterval ${POLL_INTERVAL_MS} ms; ${WARMUP} warm-up runs not counted\n`,
    );
    console.log(`${'measure'.padEnd(width)}  ${'p50'.padStart(10)}  ${'p95'.padStart(10)}`);
    for (const [name, p50, p95] of rows)
      console.log(`${name.padEnd(width)}  ${p50.padStart(10)}  ${p95.padStart(10)}`);
    console.log(
      `\n(b0) ${THROUGHPUT_TASKS} one-step tasks (intervalMs 10), ${STARTERS} concurrent starters, no subscriber: ${(THROUGHPUT_TASKS / seconds0).toFixed(0)} tasks/s (${seconds0.toFixed(2)} s from the first start to the last task succeeded)`,
    );
    console.log(
      `(b) ${THROUGHPUT_TASKS} one-step tasks (intervalMs 10), ${STARTERS} concurrent starters, ${SUBSCRIBERS_PER_TASK} subscribers per task (${results.length} streams, all complete and in order):`,
    );
    console.log(
      `    ${(THROUGHPUT_TASKS / seconds).toFixed(0)} tasks/s end to end (${seconds.toFixed(2)} s from the first start to the last task_end at a subscriber; all started after ${((allStarted - b0) / 1000).toFixed(2)} s)`,
    );
  } finally {
    for (const step of cleanup) await step().catch((err) => console.error('cleanup failed:', err));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
