// Test helpers: a fresh database cloned from the migrated template, the services' dependencies, and
// a caller that goes through the real router (gates included). Used by this and the server's tests.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEventBus,
  createLocalStorage,
  createLogger,
  createRateLimits,
  createStripe,
  loadConfig,
  type Storage,
  type Stripe,
} from '@woopdi/core';
import { createDb } from '@woopdi/db';
import { createTestDatabase } from '@woopdi/db/testing';
import { inject } from 'vitest';
import type { Context } from './context.js';
import { appRouter } from './root.js';
import { createAccessTokens } from './services/access-tokens.js';
import type { ServiceDeps } from './services/deps.js';
import { createCallerFactory } from './trpc.js';

export {
  type FakeStripe,
  type FakeSubscription,
  type RecordedStripeRequest,
  startFakeStripe,
} from './testing-stripe.js';

export const TEST_ENV = {
  JWT_SECRET: 'test-jwt-secret-0123456789-0123456789',
  WEB_CLIENT_URL: 'http://app.test',
  LOG_LEVEL: 'silent',
  // Every test signs up from 127.0.0.1; rate-limit tests set their own rules.
  RATE_LIMIT_SIGNUP: '10000/3600',
  RATE_LIMIT_PASSWORD_RESET: '10000/900',
  RATE_LIMIT_INVITATIONS: '10000/3600',
  // Streams and pipelines start many tasks in one organization; the task-quota tests set their own.
  RATE_LIMIT_TASK_STARTS: '10000/60',
  PLAN_FREE_CONCURRENT_TASKS: '10000',
  PLAN_PRO_CONCURRENT_TASKS: '10000',
} as const;

export interface TestDeps extends ServiceDeps {
  sql: ReturnType<typeof createDb>['sql'];
  databaseUrl: string;
  close(): Promise<void>;
}

/**
 * `options.stripe`: the Stripe client services use (tests point one at a local fake with
 * createStripe's overrides); without it, a client is built from STRIPE_SECRET_KEY when `env` sets it.
 * `options.storage`: the file storage (a GCS driver pointed at a local fake, say); without it, the
 * local driver in a temporary directory removed by close().
 */
export async function createTestDeps(
  env: Record<string, string> = {},
  options: { stripe?: Stripe; storage?: Storage } = {},
): Promise<TestDeps> {
  const { adminUrl, template } = inject('testDb');
  const database = await createTestDatabase(adminUrl, template);
  const config = loadConfig({ ...TEST_ENV, ...env });
  const handle = createDb(database.url, { max: 5 });
  // Real Redis when the test run has one; each test file gets its own key prefix.
  const redisUrl = process.env.TEST_REDIS_URL ?? config.redisUrl;
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const bus = createEventBus(redisUrl, prefix);
  const rateLimits = createRateLimits({ redisUrl, prefix: `${prefix}rl:`, rules: config.rateLimits });
  const storageDir = options.storage ? undefined : await mkdtemp(join(tmpdir(), 'woopdi-files-'));
  const storage =
    options.storage ??
    createLocalStorage({
      dir: storageDir!,
      signingSecret: config.jwt.secret,
      publicUrl: 'http://localhost:0',
    });
  return {
    storage,
    bus,
    rateLimits,
    db: handle.db,
    sql: handle.sql,
    databaseUrl: database.url,
    config,
    logger: createLogger({ level: 'silent' }),
    accessTokens: await createAccessTokens(config.jwt),
    ...((options.stripe ?? config.stripe) && {
      stripe: options.stripe ?? createStripe(config.stripe!),
    }),
    async close() {
      await bus.close();
      await rateLimits.close();
      await handle.close();
      await database.drop();
      if (storageDir) await rm(storageDir, { recursive: true, force: true });
    },
  };
}

const createCaller = createCallerFactory(appRouter);

/** Calls procedures as a client with this access token would, through every middleware. */
export function callerFor(deps: ServiceDeps, accessToken: string | null = null) {
  const ctx: Context = { ...deps, accessToken, requestId: 'test', ip: '127.0.0.1', userAgent: 'vitest' };
  return createCaller(ctx);
}
