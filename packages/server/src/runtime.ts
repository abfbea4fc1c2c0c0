import { createAccessTokens } from '@woopdi/api';
import { type Config, createLogger, type Logger } from '@woopdi/core';
import { createDb, type DbHandle } from '@woopdi/db';

/** The long-lived parts a process shares between its api and worker roles. */
export interface Runtime {
  config: Config;
  logger: Logger;
  dbHandle: DbHandle;
  close(): Promise<void>;
}

export function createRuntime(config: Config, databaseUrl: string, logger?: Logger): Runtime {
  const log = logger ?? createLogger({ level: config.logLevel });
  const dbHandle = createDb(databaseUrl);
  return { config, logger: log, dbHandle, close: () => dbHandle.close() };
}

export async function apiDeps(runtime: Runtime) {
  return {
    db: runtime.dbHandle.db,
    sql: runtime.dbHandle.sql,
    config: runtime.config,
    logger: runtime.logger,
    accessTokens: await createAccessTokens(runtime.config.jwt),
  };
}
