// Micro-benchmark (in process, no HTTP): CPU per call of organizations.get through the router's
// own pipeline (gates, validation, caches warm). For profiling the procedure layer alone:
//   npx tsx scripts/bench/micro-procedure.ts
import { appRouter, createAccessTokens, createAuthCache, createContextFactory } from '@woopdi/api';
import { createEventBus, createLogger, createRateLimits, loadConfig } from '@woopdi/core';
import { createDb } from '@woopdi/db';
import { createDataset } from './lib/dataset.js';

const data = await createDataset(
  process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  {
    users: 200,
    orgs: 20,
    memberships: 500,
    pairs: 100,
  },
);
const config = loadConfig({ JWT_SECRET: data.jwt.secret, LOG_LEVEL: 'silent' });
const handle = createDb(data.databaseUrl);
const bus = createEventBus(undefined);
const authCache = createAuthCache(bus);
await authCache.ready;
const deps = {
  db: handle.db,
  config,
  logger: createLogger({ level: 'silent' }),
  accessTokens: await createAccessTokens(config.jwt),
  bus,
  rateLimits: createRateLimits({ rules: config.rateLimits }),
  storage: undefined as never,
  authCache,
};
const procedure = (appRouter._def.procedures as Record<string, unknown>)['organizations.get'] as (
  o: object,
) => Promise<unknown>;
// The context as a request gets it: the same factory the HTTP and websocket adapters call.
const createContext = createContextFactory(deps);
const callOnce = (i: number) => {
  const pair = data.pairs[i % data.pairs.length]!;
  const req = { headers: { authorization: `Bearer ${pair.token}` }, id: 'x', socket: {} };
  const ctx = createContext({ req: req as never, info: { connectionParams: null } as never });
  return procedure({
    ctx,
    path: 'organizations.get',
    type: 'query',
    getRawInput: async () => ({ organizationId: pair.organizationId }),
    signal: undefined,
  });
};
for (let i = 0; i < 20_000; i++) await callOnce(i); // warm caches and JIT
for (const n of [100_000, 100_000]) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await callOnce(i);
  const used = process.cpuUsage(start);
  console.log(
    `organizations.get through the router: ${((used.user + used.system) / n).toFixed(2)} µs CPU per call`,
  );
}
authCache.close();
await bus.close();
await handle.close();
await data.drop();
process.exit(0);
