// The baseline of `pnpm bench:tasks`: raw graphile-worker in its own process, with a trivial task
// that publishes one message to Redis (channel BENCH_CHANNEL, the job's `i`). The same concurrency,
// pool size, batching and poll interval as Woopdi's worker; no Woopdi code at all.
//   DATABASE_URL, REDIS_URL, BENCH_CHANNEL, WORKER_CONCURRENCY (default 16)
// Prints "ready" once it takes jobs; stops on SIGTERM.
import { Logger, run } from 'graphile-worker';
import { createRedis } from './redis.js';

const concurrency = Number(process.env.WORKER_CONCURRENCY || 16);
const channel = process.env.BENCH_CHANNEL ?? 'bench:raw';
const redis = createRedis(process.env.REDIS_URL);

const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency,
  maxPoolSize: concurrency + 2,
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  parsedCronItems: [],
  taskList: {
    bench_raw: async (payload) => {
      await redis.publish(channel, String((payload as { i: number }).i));
    },
  },
  preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
});
process.stdout.write('ready\n');

process.once('SIGTERM', async () => {
  await runner.stop();
  await redis.quit();
  process.exit(0);
});
