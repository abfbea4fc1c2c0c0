import { fileURLToPath } from 'node:url';
import { createAccessTokens, createAuthCache } from '@woopdi/api';
import {
  type Config,
  createEventBus,
  createLogger,
  createRateLimits,
  createStorage,
  createStripe,
  type EventBus,
  type Logger,
  type RateLimits,
  type Storage,
  type Stripe,
} from '@woopdi/core';
import { createDb, type DbHandle } from '@woopdi/db';

/** The long-lived parts a process shares between its api and worker roles. */
export interface Runtime {
  config: Config;
  logger: Logger;
  dbHandle: DbHandle;
  bus: EventBus;
  rateLimits: RateLimits;
  /** Files: GCS when GCP_BUCKET_NAME is set, else local disk (STORAGE_DIR or <repo>/.data/uploads). */
  storage: Storage;
  /** Set when STRIPE_SECRET_KEY is (billing is disabled without it). */
  stripe: Stripe | undefined;
  close(): Promise<void>;
}

/** Where the local storage driver keeps files when STORAGE_DIR is unset. */
export const defaultUploadsDir = fileURLToPath(new URL('../../../.data/uploads', import.meta.url));

export function createRuntime(
  config: Config,
  databaseUrl: string,
  logger?: Logger,
  bus?: EventBus,
  storage?: Storage,
  stripe?: Stripe,
): Runtime {
  const log = logger ?? createLogger({ level: config.logLevel });
  const dbHandle = createDb(databaseUrl);
  const eventBus = bus ?? createEventBus(config.redisUrl);
  const rateLimits = createRateLimits({ redisUrl: config.redisUrl, rules: config.rateLimits });
  return {
    config,
    logger: log,
    dbHandle,
    bus: eventBus,
    rateLimits,
    storage: storage ?? createStorage(config, { defaultDir: defaultUploadsDir }),
    stripe: stripe ?? (config.stripe ? createStripe(config.stripe) : undefined),
    async close() {
      await rateLimits.close();
      await eventBus.close();
      await dbHandle.close();
    },
  };
}

export async function apiDeps(runtime: Runtime) {
  const authCache = createAuthCache(runtime.bus);
  await authCache.ready;
  return {
    authCache,
    db: runtime.dbHandle.db,
    sql: runtime.dbHandle.sql,
    config: runtime.config,
    logger: runtime.logger,
    accessTokens: await createAccessTokens(runtime.config.jwt),
    bus: runtime.bus,
    rateLimits: runtime.rateLimits,
    storage: runtime.storage,
    ...(runtime.stripe && { stripe: runtime.stripe }),
  };
}
