import type { Config, EventBus, Logger, RateLimits } from '@woopdi/core';
import type { Db } from '@woopdi/db';
import type { AccessTokens } from './access-tokens.js';

/** What services need; a subset of the request context so the seed script and tests can call them. */
export interface ServiceDeps {
  db: Db;
  config: Config;
  logger: Logger;
  accessTokens: AccessTokens;
  bus: EventBus;
  rateLimits: RateLimits;
}

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

/** True when `error` is Postgres' unique violation on the named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = (error as { cause?: unknown })?.cause ?? error;
  const pg = e as { code?: string; constraint_name?: string };
  return pg?.code === '23505' && (!constraint || pg.constraint_name === constraint);
}
