// The one place the environment is read. Everything else receives a Config.
import { hkdfSync } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { type OAuthConfig, parseOAuthConfig } from './oauth-config.js';
import { type Feature, features, type Plan, type PlanId, planCatalogue } from './plans.js';
import { defaultRateLimitRules, parseRateLimitRule, type RateLimitRules } from './rate-limit.js';
import { parseDurations } from './webhooks/sign.js';

const DEV_JWT_SECRET = 'woopdi-dev-only-jwt-secret-do-not-use-in-production';
// 32 zero-ish bytes would be weaker still; this one is at least clearly labelled as the dev key.
const DEV_ENCRYPTION_KEY_BYTES = Buffer.from('woopdi-dev-only-encryption-key!!');
const DEV_ENCRYPTION_KEY = `dev:${DEV_ENCRYPTION_KEY_BYTES.toString('base64')}`;

const bool = z
  .enum(['true', 'false', '1', '0', 'True', 'False', 'TRUE', 'FALSE', ''])
  .transform((v) => ['true', '1', 'True', 'TRUE'].includes(v));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const url = (name: string) =>
  z
    // http(s) only: zod alone accepts "localhost:3000" as a URL with the scheme "localhost:".
    .url({ protocol: /^https?$/, message: `${name} must be a URL such as http://localhost:3000` })
    .transform((v) => v.replace(/\/+$/, ''));

/** The web app's dev server (`pnpm --filter @woopdi/web dev`) when nothing else is said. */
const DEFAULT_WEB_CLIENT_URL = 'http://localhost:3000';

/**
 * `config` with the web app at `url` unless WEB_CLIENT_URL was set (and CORS following it unless
 * CORS_ORIGINS was): the all-in-one process serves the app itself, so its links open it there.
 */
export function withWebClientUrl(config: Config, url: string): Config {
  if (config.explicit.webClientUrl) return config;
  const webClientUrl = url.replace(/\/+$/, '');
  return {
    ...config,
    webClientUrl,
    corsOrigins: config.explicit.corsOrigins ? config.corsOrigins : [webClientUrl],
  };
}

const rateRule = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const rule = parseRateLimitRule(v);
      if (!rule)
        ctx.addIssue({ code: 'custom', message: `${name} must look like "5/60" (attempts per seconds)` });
      return rule;
    });

const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,8h,8h'; // about a day (23.6 h) after the first try
const DEFAULT_DISABLE_AFTER = '5d';

/** A list of durations ("5s,5m,2h"), in milliseconds. */
const durations = (message: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const list = parseDurations(v);
      if (!list || list.length === 0 || list.length > 20) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return list;
    });

/** Tasks one organization of a plan may have queued or running at once (PLAN_*_CONCURRENT_TASKS). */
const concurrentTasks = (name: string, fallback: number) => {
  const error = `${name} must be a whole number from 1 to 10000 (tasks one organization may have queued or running at once; default ${fallback})`;
  return z.coerce.number({ error }).int({ error }).min(1, { error }).max(10_000, { error }).default(fallback);
};

// The seed system's allow-list: images, documents, audio, video, archives.
const defaultContentTypes = [
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'application/pdf',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'text/plain',
  'text/csv',
  'application/json',
  'application/xml',
  'audio/mpeg',
  'audio/wav',
  'audio/mp4',
  'video/mp4',
  'video/quicktime',
  'video/x-msvideo',
  'application/zip',
  'application/octet-stream',
];

const concurrencyMessage =
  'give the number of jobs one worker process runs at once, a whole number from 1 to 1000 (default 16)';
const localQueueMessage =
  'give the number of jobs one worker process may fetch ahead in one query, a whole number from 0 (off) to 1000 (default 0)';
const bufferedMessage = 'give a whole number of bytes, at least 1024 (default 1048576: 1 MiB)';

// Open websockets and SSE streams per api process (issue #14; packages/server/src/socket-limits.ts).
const connectionLimit = (message: string, min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message })
    .default(fallback);
const perUserMessage =
  'give how many websockets and event streams one user may have open on one api process, a whole number from 1 to 100000 (default 20)';
const perAddressMessage =
  'give how many websockets and event streams one client address may have open on one api process, a whole number from 1 to 1000000 (default 200)';
const firstMessageMessage =
  'give the milliseconds a /trpc websocket has to send its first message (connectionParams or a call), a whole number from 100 to 600000 (default 5000)';

// A bind address: an IP address, or a host name that resolves to one (localhost).
const hostName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;
const hostMessage =
  'give the address to listen on: 0.0.0.0 (every IPv4 interface, the default), 127.0.0.1 (this machine only), :: (IPv6 and IPv4) or a host name';
const webConcurrencyMessage =
  'give the number of api processes: a whole number from 1 to 256, or auto for one per CPU core (default 1)';

const envSchema = z.object({
  IS_PROD: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z
    .string()
    .trim()
    .refine((v) => isIP(v) !== 0 || hostName.test(v), { message: hostMessage })
    .default('0.0.0.0'),
  WEB_CONCURRENCY: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = v?.trim().toLowerCase();
      if (value === undefined) return 1;
      if (value === 'auto') return availableParallelism();
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 1 || n > 256) {
        ctx.addIssue({ code: 'custom', message: webConcurrencyMessage });
        return z.NEVER;
      }
      return n;
    }),
  API_HOST: url('API_HOST').optional(),
  WEB_CLIENT_URL: url('WEB_CLIENT_URL').optional(),

  DATABASE_URL: optionalString,
  POSTGRES_HOST: optionalString,
  POSTGRES_PORT: z.coerce.number().int().optional(),
  POSTGRES_USER: optionalString,
  POSTGRES_PASSWORD: optionalString,
  POSTGRES_DB: optionalString,

  REDIS_URL: optionalString,
  REDIS_HOST: optionalString,
  REDIS_PORT: z.coerce.number().int().optional(),
  REDIS_PASSWORD: optionalString,

  JWT_SECRET: optionalString,
  ENCRYPTION_KEY: optionalString,
  API_KEY_HASH_SECRET: z
    .string()
    .trim()
    .min(32, {
      message:
        'give a random string of at least 32 characters (openssl rand -base64 48); changing it invalidates every API key',
    })
    .optional(),
  RATE_LIMIT_API_KEY: rateRule('RATE_LIMIT_API_KEY'),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: bool.optional(),
  WEBHOOK_RETRY_SCHEDULE: durations(
    'give the delays between delivery attempts, e.g. "5s,5m,30m,2h,5h,8h,8h" (units ms, s, m, h, d; at most 20)',
    DEFAULT_RETRY_SCHEDULE,
  ),
  WEBHOOK_DISABLE_AFTER: durations(
    'give how long an endpoint may fail continuously before it is disabled, e.g. "5d" (units ms, s, m, h, d)',
    DEFAULT_DISABLE_AFTER,
  ),
  WEBHOOK_TIMEOUT_MS: z.coerce
    .number({
      error: 'WEBHOOK_TIMEOUT_MS must be a whole number of milliseconds from 100 to 30000 (default 10000)',
    })
    .int({
      error: 'WEBHOOK_TIMEOUT_MS must be a whole number of milliseconds from 100 to 30000 (default 10000)',
    })
    .min(100, {
      error: 'WEBHOOK_TIMEOUT_MS must be a whole number of milliseconds from 100 to 30000 (default 10000)',
    })
    .max(30_000, {
      error: 'WEBHOOK_TIMEOUT_MS must be a whole number of milliseconds from 100 to 30000 (default 10000)',
    })
    .default(10_000),

  SENDGRID_API_KEY: optionalString,
  SENDGRID_FROM_EMAIL: z.email({ message: 'SENDGRID_FROM_EMAIL must be an email address' }).optional(),
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  GCP_BUCKET_NAME: optionalString,
  GCP_SERVICE_FILE_CRED_JSON_LOCATION: optionalString,
  REPLICATE_API_TOKEN: optionalString,
  REPLICATE_MODEL: z.string().default('qwen/qwen-image'),
  REPLICATE_API_BASE: url('REPLICATE_API_BASE').default('https://api.replicate.com'),

  STRIPE_PRICE_PRO: optionalString,
  // Enough for the seeded demo teams; the billing tests pin 3.
  PLAN_FREE_SEATS: z.coerce.number().int().min(1).default(10),
  PLAN_FREE_FEATURES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const list = (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const unknown = list.filter((f) => !(features as readonly string[]).includes(f));
      if (unknown.length) {
        ctx.addIssue({
          code: 'custom',
          message: `PLAN_FREE_FEATURES knows only ${features.join(', ')}; not ${unknown.join(', ')}`,
        });
      }
      return list as Feature[];
    }),
  PLAN_FREE_STORAGE_MB: z.coerce.number().int().min(1).default(100),
  PLAN_PRO_STORAGE_MB: z.coerce.number().int().min(1).default(10_240),
  BILLING_GRACE_DAYS: z.coerce.number().min(0).default(7),
  // Task quotas: tasks.start answers 412 past the plan's concurrent tasks, 429 past the starts per user.
  PLAN_FREE_CONCURRENT_TASKS: concurrentTasks('PLAN_FREE_CONCURRENT_TASKS', 3),
  PLAN_PRO_CONCURRENT_TASKS: concurrentTasks('PLAN_PRO_CONCURRENT_TASKS', 20),
  RATE_LIMIT_TASK_STARTS: rateRule('RATE_LIMIT_TASK_STARTS'),

  STORAGE_DIR: optionalString,
  UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(50 * 1024 * 1024),
  UPLOAD_CONTENT_TYPES: optionalString,
  SIGNED_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 24 * 3600)
    .default(900),

  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 24 * 3600),
  MAX_OWNED_TEAM_ORGS: z.coerce.number().int().min(0).default(1),
  RATE_LIMIT_LOGIN: rateRule('RATE_LIMIT_LOGIN'),
  RATE_LIMIT_LOGIN_ADDRESS: rateRule('RATE_LIMIT_LOGIN_ADDRESS'),
  RATE_LIMIT_SIGNUP: rateRule('RATE_LIMIT_SIGNUP'),
  RATE_LIMIT_PASSWORD_RESET: rateRule('RATE_LIMIT_PASSWORD_RESET'),
  RATE_LIMIT_INVITATIONS: rateRule('RATE_LIMIT_INVITATIONS'),
  RATE_LIMIT_EMAILS_PER_RECIPIENT: rateRule('RATE_LIMIT_EMAILS_PER_RECIPIENT'),
  RATE_LIMIT_INVITATIONS_PER_RECIPIENT: rateRule('RATE_LIMIT_INVITATIONS_PER_RECIPIENT'),
  RATE_LIMIT_TWO_FACTOR: rateRule('RATE_LIMIT_TWO_FACTOR'),
  CORS_ORIGINS: optionalString,
  WOOPDI_MIGRATIONS_DIR: optionalString,
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_HOST: z
    .string()
    .trim()
    .refine((v) => isIP(v) !== 0 || hostName.test(v), {
      message:
        'give the address the metrics port binds: 127.0.0.1 (the default: this machine only) or another',
    })
    .default('127.0.0.1'),
  METRICS_TOKEN: z
    .string()
    .trim()
    .min(16, { message: 'give a random bearer token of at least 16 characters (openssl rand -hex 24)' })
    .optional(),
  WORKER_HEARTBEAT_MS: z.coerce.number().int().min(100).default(2_000),
  WORKER_DEAD_AFTER_MS: z.coerce.number().int().min(1_000).default(8_000),
  TRPC_MAX_BATCH_SIZE: z.coerce
    .number({ error: 'TRPC_MAX_BATCH_SIZE must be a whole number from 1 to 100 (calls in one tRPC batch).' })
    .int()
    .min(1)
    .max(100)
    .default(20),
  JSON_MAX_DEPTH: z.coerce
    .number({
      error: 'JSON_MAX_DEPTH must be a whole number from 1 to 1000 (nesting levels of a JSON body)',
    })
    .int({ error: 'JSON_MAX_DEPTH must be a whole number from 1 to 1000 (nesting levels of a JSON body)' })
    .min(1, {
      error: 'JSON_MAX_DEPTH must be a whole number from 1 to 1000 (nesting levels of a JSON body)',
    })
    .max(1000, {
      error: 'JSON_MAX_DEPTH must be a whole number from 1 to 1000 (nesting levels of a JSON body)',
    })
    .default(64),
  WORKER_CONCURRENCY: z.coerce
    .number({ error: concurrencyMessage })
    .int({ error: concurrencyMessage })
    .min(1, { error: concurrencyMessage })
    .max(1000, { error: concurrencyMessage })
    .default(16),
  WORKER_LOCAL_QUEUE: z.coerce
    .number({ error: localQueueMessage })
    .int({ error: localQueueMessage })
    .min(0, { error: localQueueMessage })
    .max(1000, { error: localQueueMessage })
    .default(0),
  STREAM_MAX_BUFFERED_BYTES: z.coerce
    .number({ error: bufferedMessage })
    .int({ error: bufferedMessage })
    .min(1024, { error: bufferedMessage })
    .default(1024 * 1024),
  WS_MAX_PER_USER: connectionLimit(perUserMessage, 1, 100_000, 20),
  WS_MAX_PER_ADDRESS: connectionLimit(perAddressMessage, 1, 1_000_000, 200),
  WS_FIRST_MESSAGE_TIMEOUT_MS: connectionLimit(firstMessageMessage, 100, 600_000, 5_000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
});

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface Config {
  isProd: boolean;
  logLevel: string;
  port: number;
  /** The address the api binds (HOST, default 0.0.0.0). */
  host: string;
  /** api processes `start:api` runs on one port through node:cluster (WEB_CONCURRENCY, default 1). */
  webConcurrency: number;
  apiHost: string | undefined;
  webClientUrl: string;
  corsOrigins: string[];
  /**
   * Whether WEB_CLIENT_URL / CORS_ORIGINS were given: the all-in-one process, which serves the web
   * app itself, points the defaults at its own address (withWebClientUrl).
   */
  explicit: { webClientUrl: boolean; corsOrigins: boolean };
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  jwt: {
    secret: string;
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
  };
  /** First key seals; all keys open (rotation). */
  encryptionKeys: EncryptionKey[];
  /**
   * The HMAC-SHA256 key API key secrets are hashed with (API_KEY_HASH_SECRET, else derived from
   * JWT_SECRET with HKDF). Changing it invalidates every API key.
   */
  apiKeyHashSecret: Buffer;
  webhooks: {
    /** Private, loopback and metadata targets allowed (development; never with IS_PROD). */
    allowPrivateTargets: boolean;
    /** Delays before each retry (ms): WEBHOOK_RETRY_SCHEDULE, about a day in all by default. */
    retryDelaysMs: number[];
    /** An endpoint failing continuously this long (ms) is disabled (WEBHOOK_DISABLE_AFTER). */
    disableAfterMs: number;
    /** One attempt's limit, connect to last byte (WEBHOOK_TIMEOUT_MS, default 10 s). */
    timeoutMs: number;
  };
  sendgrid: { apiKey: string; fromEmail: string } | undefined;
  mailFrom: string;
  stripe: { secretKey: string; webhookSecret: string | undefined } | undefined;
  gcs: { bucket: string; credentialsFile: string | undefined } | undefined;
  replicateApiToken: string | undefined;
  replicate: { model: string; apiBase: string };
  plans: Record<PlanId, Plan>;
  billing: { graceDays: number };
  storage: {
    /** Local driver directory (default <repo>/.data/uploads, resolved by the server). */
    dir: string | undefined;
    maxUploadBytes: number;
    allowedContentTypes: string[];
    signedUrlTtlSeconds: number;
  };
  maxOwnedTeamOrgs: number;
  rateLimits: RateLimitRules;
  shutdownTimeoutMs: number;
  /** Where the SQL migrations are (default: the repository's drizzle/); the image sets it. */
  migrationsDir: string | undefined;
  /** A worker process serves /metrics on this port when set, bound to metricsHost. */
  metricsPort: number | undefined;
  /** Where METRICS_PORT binds (METRICS_HOST, default 127.0.0.1: never public by default). */
  metricsHost: string;
  /** The bearer token /metrics on the public port requires (METRICS_TOKEN); without it, absent (404). */
  metricsToken: string | undefined;
  /** Every worker process must use the same values: a short deadAfterMs would rob live workers. */
  workerLiveness: { heartbeatMs: number; deadAfterMs: number };
  /** Jobs one worker process runs at once (graphile-worker concurrency); sized for I/O-bound kinds. */
  workerConcurrency: number;
  /**
   * Jobs a worker process fetches ahead in one query and keeps locked for its free slots
   * (graphile-worker's local queue; WORKER_LOCAL_QUEUE, 0 = one query per job).
   */
  workerLocalQueue: number;
  /**
   * Bytes a task event stream may have queued for one client before the client is dropped as too
   * slow (it reconnects and resumes by last event id) instead of buffering without limit.
   */
  streamMaxBufferedBytes: number;
  /**
   * Open websockets and SSE streams one user / one client address may hold on one api process
   * (WS_MAX_PER_USER, WS_MAX_PER_ADDRESS), and how long a new /trpc websocket may stay silent
   * (WS_FIRST_MESSAGE_TIMEOUT_MS) before it is closed.
   */
  connectionLimits: { maxPerUser: number; maxPerAddress: number; firstMessageTimeoutMs: number };
  /** Calls one tRPC batch (HTTP request or websocket frame) may carry; more are refused, none run. */
  trpcMaxBatchSize: number;
  /** Nesting levels a JSON request body may have (JSON_MAX_DEPTH); deeper answers 400. */
  jsonMaxDepth: number;
  /** OAuth / OpenID Connect sign-in providers (oauth-config.ts); none configured by default. */
  oauth: OAuthConfig;
}

/** Thrown for a bad environment; its message is one line naming the variable and the fix. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseEncryptionKeys(raw: string): EncryptionKey[] {
  // Either one base64 key (id "k1") or "id:base64,id:base64" with the current key first.
  const parts = raw.includes(':') ? raw.split(',') : [`k1:${raw}`];
  return parts.map((part) => {
    const [rawId, b64] = part.split(':') as [string, string | undefined];
    const id = rawId.trim();
    const key = Buffer.from(b64 ?? '', 'base64');
    // The id is a field of the dot-separated sealed format, so a "." in it would make values unopenable.
    if (!/^[\w-]+$/.test(id) || key.length !== 32) {
      throw new ConfigError(
        'ENCRYPTION_KEY is invalid: give a base64 32-byte key, or "id:key,id:key" (ids of letters, digits, - or _) with the current key first (generate one with: openssl rand -base64 32).',
      );
    }
    return { id, key };
  });
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable (`PORT=` in a copied .env.example) means unset, not 0 or an invalid value.
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== '')),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${name} is invalid: ${issue.message}. Fix it in your environment or .env file.`);
  }
  const e = parsed.data;

  if (e.IS_PROD) {
    if (!e.JWT_SECRET) {
      throw new ConfigError(
        'JWT_SECRET is required when IS_PROD=true: set it to a random string of at least 32 characters (openssl rand -base64 48).',
      );
    }
    if (
      e.JWT_SECRET.length < 32 ||
      e.JWT_SECRET === DEV_JWT_SECRET ||
      /change[-_ ]?me|secret/i.test(e.JWT_SECRET)
    ) {
      throw new ConfigError(
        'JWT_SECRET is too weak for production: use a random string of at least 32 characters (openssl rand -base64 48).',
      );
    }
    if (!e.ENCRYPTION_KEY) {
      throw new ConfigError(
        'ENCRYPTION_KEY is required when IS_PROD=true: set it to a base64 32-byte key (openssl rand -base64 32).',
      );
    }
    if (e.ENCRYPTION_KEY === DEV_ENCRYPTION_KEY) {
      throw new ConfigError(
        'ENCRYPTION_KEY is the development default: generate one with openssl rand -base64 32.',
      );
    }
  }
  if (e.IS_PROD && e.WEBHOOK_ALLOW_PRIVATE_TARGETS) {
    throw new ConfigError(
      'WEBHOOK_ALLOW_PRIVATE_TARGETS=true is refused when IS_PROD=true: production webhooks go to public addresses only (unset it).',
    );
  }
  if (e.SENDGRID_API_KEY && !e.SENDGRID_FROM_EMAIL) {
    throw new ConfigError(
      'SENDGRID_FROM_EMAIL is required when SENDGRID_API_KEY is set: give the verified sender address.',
    );
  }

  let oauth: OAuthConfig;
  try {
    oauth = parseOAuthConfig(env, e.IS_PROD);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}. Fix it in your environment or .env file.`);
  }
  if (e.IS_PROD && oauth.providers.length > 0 && !e.API_HOST) {
    throw new ConfigError(
      `API_HOST is required when an OAuth provider is configured (${oauth.providers.map((p) => p.name).join(', ')}) and IS_PROD=true: the providers redirect to API_HOST/oauth/{provider}/callback.`,
    );
  }

  const encryptionKeys = parseEncryptionKeys(e.ENCRYPTION_KEY ?? DEV_ENCRYPTION_KEY);
  if (e.IS_PROD && encryptionKeys.some((k) => k.key.equals(DEV_ENCRYPTION_KEY_BYTES))) {
    throw new ConfigError(
      'ENCRYPTION_KEY is the development default: generate one with openssl rand -base64 32.',
    );
  }
  if (e.IS_PROD && encryptionKeys.some((k) => k.key.every((b) => b === k.key[0]))) {
    throw new ConfigError(
      'ENCRYPTION_KEY is too weak for production: generate one with openssl rand -base64 32.',
    );
  }

  let databaseUrl = e.DATABASE_URL;
  if (!databaseUrl && e.POSTGRES_HOST) {
    const u = new URL('postgres://localhost');
    u.hostname = e.POSTGRES_HOST;
    u.port = String(e.POSTGRES_PORT ?? 5432);
    u.username = encodeURIComponent(e.POSTGRES_USER ?? 'postgres');
    if (e.POSTGRES_PASSWORD) u.password = encodeURIComponent(e.POSTGRES_PASSWORD);
    u.pathname = `/${e.POSTGRES_DB ?? 'postgres'}`;
    databaseUrl = u.toString();
  }
  let redisUrl = e.REDIS_URL;
  if (!redisUrl && e.REDIS_HOST) {
    const auth = e.REDIS_PASSWORD ? `:${encodeURIComponent(e.REDIS_PASSWORD)}@` : '';
    redisUrl = `redis://${auth}${e.REDIS_HOST}:${e.REDIS_PORT ?? 6379}`;
  }

  return {
    isProd: e.IS_PROD,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    host: e.HOST,
    webConcurrency: e.WEB_CONCURRENCY,
    apiHost: e.API_HOST,
    webClientUrl: e.WEB_CLIENT_URL ?? DEFAULT_WEB_CLIENT_URL,
    corsOrigins: e.CORS_ORIGINS
      ? e.CORS_ORIGINS.split(',').map((s) => s.trim())
      : [e.WEB_CLIENT_URL ?? DEFAULT_WEB_CLIENT_URL],
    explicit: { webClientUrl: e.WEB_CLIENT_URL !== undefined, corsOrigins: Boolean(e.CORS_ORIGINS) },
    databaseUrl,
    redisUrl,
    jwt: {
      secret: e.JWT_SECRET ?? DEV_JWT_SECRET,
      issuer: 'woopdi',
      audience: 'woopdi-api',
      accessTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
    },
    encryptionKeys,
    apiKeyHashSecret: e.API_KEY_HASH_SECRET
      ? Buffer.from(e.API_KEY_HASH_SECRET)
      : Buffer.from(
          hkdfSync('sha256', e.JWT_SECRET ?? DEV_JWT_SECRET, 'woopdi', 'woopdi api key hash v1', 32),
        ),
    webhooks: {
      // Embedded mode (no DATABASE_URL) is local development: receivers on localhost are the norm.
      allowPrivateTargets:
        e.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? (!e.IS_PROD && !e.DATABASE_URL && !e.POSTGRES_HOST),
      retryDelaysMs: e.WEBHOOK_RETRY_SCHEDULE,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER[0]!,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
    sendgrid:
      e.SENDGRID_API_KEY && e.SENDGRID_FROM_EMAIL
        ? { apiKey: e.SENDGRID_API_KEY, fromEmail: e.SENDGRID_FROM_EMAIL }
        : undefined,
    mailFrom: e.SENDGRID_FROM_EMAIL ?? 'no-reply@woopdi.local',
    stripe: e.STRIPE_SECRET_KEY
      ? { secretKey: e.STRIPE_SECRET_KEY, webhookSecret: e.STRIPE_WEBHOOK_SECRET }
      : undefined,
    gcs: e.GCP_BUCKET_NAME
      ? { bucket: e.GCP_BUCKET_NAME, credentialsFile: e.GCP_SERVICE_FILE_CRED_JSON_LOCATION }
      : undefined,
    replicateApiToken: e.REPLICATE_API_TOKEN,
    replicate: { model: e.REPLICATE_MODEL, apiBase: e.REPLICATE_API_BASE },
    plans: planCatalogue({
      freeSeats: e.PLAN_FREE_SEATS,
      freeFeatures: e.PLAN_FREE_FEATURES,
      freeStorageMb: e.PLAN_FREE_STORAGE_MB,
      proStorageMb: e.PLAN_PRO_STORAGE_MB,
      freeConcurrentTasks: e.PLAN_FREE_CONCURRENT_TASKS,
      proConcurrentTasks: e.PLAN_PRO_CONCURRENT_TASKS,
      proPriceId: e.STRIPE_PRICE_PRO,
    }),
    billing: { graceDays: e.BILLING_GRACE_DAYS },
    storage: {
      dir: e.STORAGE_DIR,
      maxUploadBytes: e.UPLOAD_MAX_BYTES,
      allowedContentTypes: e.UPLOAD_CONTENT_TYPES
        ? e.UPLOAD_CONTENT_TYPES.split(',').map((s) => s.trim().toLowerCase())
        : defaultContentTypes,
      signedUrlTtlSeconds: e.SIGNED_URL_TTL_SECONDS,
    },
    maxOwnedTeamOrgs: e.MAX_OWNED_TEAM_ORGS,
    rateLimits: {
      ...defaultRateLimitRules,
      ...(e.RATE_LIMIT_LOGIN && { login: e.RATE_LIMIT_LOGIN }),
      ...(e.RATE_LIMIT_LOGIN_ADDRESS && { loginAddress: e.RATE_LIMIT_LOGIN_ADDRESS }),
      ...(e.RATE_LIMIT_SIGNUP && { signup: e.RATE_LIMIT_SIGNUP }),
      ...(e.RATE_LIMIT_PASSWORD_RESET && { passwordReset: e.RATE_LIMIT_PASSWORD_RESET }),
      ...(e.RATE_LIMIT_INVITATIONS && { invitation: e.RATE_LIMIT_INVITATIONS }),
      ...(e.RATE_LIMIT_EMAILS_PER_RECIPIENT && { emailRecipient: e.RATE_LIMIT_EMAILS_PER_RECIPIENT }),
      ...(e.RATE_LIMIT_INVITATIONS_PER_RECIPIENT && {
        invitationRecipient: e.RATE_LIMIT_INVITATIONS_PER_RECIPIENT,
      }),
      ...(e.RATE_LIMIT_TASK_STARTS && { taskStart: e.RATE_LIMIT_TASK_STARTS }),
      ...(e.RATE_LIMIT_API_KEY && { apiKey: e.RATE_LIMIT_API_KEY }),
      ...(e.RATE_LIMIT_TWO_FACTOR && { twoFactor: e.RATE_LIMIT_TWO_FACTOR }),
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    migrationsDir: e.WOOPDI_MIGRATIONS_DIR,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    metricsToken: e.METRICS_TOKEN,
    workerLiveness: { heartbeatMs: e.WORKER_HEARTBEAT_MS, deadAfterMs: e.WORKER_DEAD_AFTER_MS },
    workerConcurrency: e.WORKER_CONCURRENCY,
    workerLocalQueue: e.WORKER_LOCAL_QUEUE,
    streamMaxBufferedBytes: e.STREAM_MAX_BUFFERED_BYTES,
    connectionLimits: {
      maxPerUser: e.WS_MAX_PER_USER,
      maxPerAddress: e.WS_MAX_PER_ADDRESS,
      firstMessageTimeoutMs: e.WS_FIRST_MESSAGE_TIMEOUT_MS,
    },
    trpcMaxBatchSize: e.TRPC_MAX_BATCH_SIZE,
    jsonMaxDepth: e.JSON_MAX_DEPTH,
    oauth,
  };
}
