import type { Config, EventBus, HostResolver, Logger, RateLimits, Storage, Stripe } from '@woopdi/core';
import type { Db } from '@woopdi/db';
import type { CustomFetch } from 'openid-client';
import type { AccessTokens } from './access-tokens.js';

/** What services need; a subset of the request context so the seed script and tests can call them. */
export interface ServiceDeps {
  db: Db;
  config: Config;
  logger: Logger;
  accessTokens: AccessTokens;
  bus: EventBus;
  rateLimits: RateLimits;
  /** Files: local disk or GCS (core's storage drivers). */
  storage: Storage;
  /** Set when STRIPE_SECRET_KEY is (billing is disabled without it). */
  stripe?: Stripe;
  /** How webhook target hosts are resolved for the SSRF check; default the system resolver. */
  webhookResolver?: HostResolver;
  /** How the OAuth client reaches sign-in providers (openid-client's customFetch); default fetch. */
  oauthFetch?: CustomFetch;
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
