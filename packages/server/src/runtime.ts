import { createAccessTokens } from '@woopdi/api';
import {
  type Config,
  createEventBus,
  createLogger,
  createRateLimits,
  type EventBus,
  type Logger,
  type RateLimits,
} from '@woopdi/core';
import { createDb, type DbHandle } from '@woopdi/db';

/** The long-lived parts a process shares between its api and worker roles. */
export interface Runtime {
  config: Config;
  logger: Logger;
  dbHandle: DbHandle;
  bus: EventBus;
  rateLimits: RateLimits;
  close(): Promise<void>;
}

export function createRuntime(config: Config, databaseUrl: string, logger?: Logger, bus?: EventBus): Runtime {
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
    async close() {
      await rateLimits.close();
      await eventBus.close();
      await dbHandle.close();
    },
  };
}

export async function apiDeps(runtime: Runtime) {
  return {
    db: runtime.dbHandle.db,
    sql: runtime.dbHandle.sql,
    config: runtime.config,
    logger: runtime.logger,
    accessTokens: await createAccessTokens(runtime.config.jwt),
    bus: runtime.bus,
    rateLimits: runtime.rateLimits,
  };
}
