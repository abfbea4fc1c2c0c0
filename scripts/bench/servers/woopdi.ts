// A real Woopdi API process on a scratch database: one user, one team organization.
// Prints { port, token, organizationId } once ready.
import { appRouter, createAccessTokens, createCallerFactory } from '@woopdi/api';
import { createEventBus, createLogger, createRateLimits, loadConfig } from '@woopdi/core';
import { createDb, migrate } from '@woopdi/db';
import { createRuntime, startApiServer } from '@woopdi/server';
import { startWorker } from '@woopdi/worker';
import postgres from 'postgres';

const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `woopdi_bench_${process.pid}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`drop database if exists "${name}"`);
await admin.unsafe(`create database "${name}"`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const databaseUrl = url.toString();
await migrate(databaseUrl);

const config = loadConfig({
  LOG_LEVEL: 'warn',
  JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
  REDIS_URL: process.env.REDIS_URL ?? '',
  RATE_LIMIT_SIGNUP: '1000/60',
});
const logger = createLogger({ level: 'warn' });
const runtime = createRuntime(config, databaseUrl, logger);
const api = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
// The fan-out benchmark needs tasks to run: a worker in this process when asked for.
const worker =
  process.env.BENCH_WORKER === '1'
    ? await startWorker({
        databaseUrl,
        db: runtime.dbHandle.db,
        config,
        logger,
        bus: runtime.bus,
        storage: runtime.storage,
        pollInterval: 100,
      })
    : undefined;

// Seed through the services (no HTTP), then hand the client its coordinates.
const handle = createDb(databaseUrl, { max: 2 });
const deps = {
  db: handle.db,
  config,
  logger,
  accessTokens: await createAccessTokens(config.jwt),
  bus: createEventBus(undefined),
  rateLimits: createRateLimits({ rules: config.rateLimits }),
  storage: runtime.storage,
};
const caller = (accessToken: string | null) =>
  createCallerFactory(appRouter)({
    ...deps,
    accessToken,
    requestId: 'bench',
    ip: '127.0.0.1',
    userAgent: 'bench',
  });
const { tokens } = await caller(null).auth.signup({
  email: 'bench@example.com',
  password: 'bench password 1',
});
const org = await caller(tokens.accessToken).organizations.create({ name: 'Bench' });
await deps.bus.close();
await deps.rateLimits.close();
await handle.close();
process.stdout.write(
  `${JSON.stringify({ port: api.port, token: tokens.accessToken, organizationId: org.id })}\n`,
);

process.on('SIGTERM', async () => {
  await worker?.stop();
  await api.stop();
  await runtime.close();
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
  process.exit(0);
});
