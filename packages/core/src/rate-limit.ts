// Rate limits for the endpoints attackers hammer (rate-limiter-flexible): shared through Redis in
// service mode so every api instance counts together; in memory in embedded mode.
import { Redis } from 'ioredis';
import {
  type IRateLimiterStoreOptions,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { tooManyRequests } from './errors.js';

export type RateLimitName =
  | 'login'
  | 'loginAddress'
  | 'signup'
  | 'passwordReset'
  | 'emailRecipient'
  | 'invitation'
  | 'invitationRecipient'
  | 'invitationResend'
  | 'taskStart'
  | 'apiKey'
  | 'twoFactor';

export interface RateLimitRule {
  points: number;
  seconds: number;
}

export type RateLimitRules = Record<RateLimitName, RateLimitRule>;

export const defaultRateLimitRules: RateLimitRules = {
  // Sign-in attempts are counted before the password check and refunded when it succeeds, so
  // concurrent attempts (a tRPC batch, parallel requests) cannot outrun the limit.
  login: { points: 5, seconds: 60 }, // failed attempts per account (email), from any address
  loginAddress: { points: 20, seconds: 60 }, // failed attempts per client address, any account
  signup: { points: 10, seconds: 3600 }, // per IP
  passwordReset: { points: 5, seconds: 900 }, // reset and verification email requests, per IP
  emailRecipient: { points: 5, seconds: 3600 }, // reset and verification emails, per recipient
  invitation: { points: 50, seconds: 3600 }, // invitations sent, per organization
  invitationRecipient: { points: 5, seconds: 3600 }, // invitation emails per organization + recipient
  invitationResend: { points: 1, seconds: 60 }, // per invitation
  taskStart: { points: 30, seconds: 60 }, // tasks.start calls per user, in any organization
  apiKey: { points: 600, seconds: 60 }, // requests per organization API key
  twoFactor: { points: 5, seconds: 300 }, // wrong two-factor codes per account (sign-in, confirm, disable)
};

const messages: Record<RateLimitName, string> = {
  login: 'Too many failed sign-in attempts for this account',
  loginAddress: 'Too many failed sign-in attempts from this address',
  signup: 'Too many sign-ups from this address',
  passwordReset: 'Too many email requests from this address',
  emailRecipient: 'Too many emails were sent to this address',
  invitation: 'This organization has sent too many invitations',
  invitationRecipient: 'This organization has sent too many invitations to this address',
  invitationResend: 'This invitation was sent less than a minute ago',
  taskStart: 'You have started too many tasks',
  apiKey: 'This API key has made too many requests',
  twoFactor: 'Too many wrong two-factor codes for this account',
};

/** Where a key stands after a counted request: what the RateLimit-* response headers say. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
  windowSeconds: number;
}

export interface RateLimits {
  /** Counts one attempt; throws TOO_MANY_REQUESTS (with retryAfterSeconds) once over the limit. */
  consume(name: RateLimitName, key: string): Promise<void>;
  /**
   * Counts one request and returns the key's standing; over the limit throws TOO_MANY_REQUESTS
   * whose details carry the same standing (`rateLimit`) besides retryAfterSeconds.
   */
  take(name: RateLimitName, key: string): Promise<RateLimitState>;
  /** Counts one attempt; false (instead of throwing) once over the limit. */
  tryConsume(name: RateLimitName, key: string): Promise<boolean>;
  /** Gives back one attempt counted by consume (a sign-in whose password was right). */
  refund(name: RateLimitName, key: string): Promise<void>;
  /** Throws if the key is already over the limit, without counting an attempt. */
  check(name: RateLimitName, key: string): Promise<void>;
  /** Forgets the key's attempts (a successful login clears its failures). */
  reset(name: RateLimitName, key: string): Promise<void>;
  close(): Promise<void>;
}

function refusal(name: RateLimitName, msBeforeNext: number) {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return tooManyRequests(`${messages[name]}. Try again in ${seconds} seconds.`, seconds);
}

export function createRateLimits(
  options: { redisUrl?: string; prefix?: string; rules?: Partial<RateLimitRules> } = {},
): RateLimits {
  const rules = { ...defaultRateLimitRules, ...options.rules };
  const prefix = options.prefix ?? 'woopdi:rl:';
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    : undefined;
  redis?.on('error', () => {}); // the in-memory insurance limiter covers outages
  const limiters = Object.fromEntries(
    (Object.keys(rules) as RateLimitName[]).map((name) => {
      const base = {
        points: rules[name].points,
        duration: rules[name].seconds,
        keyPrefix: `${prefix}${name}`,
      };
      const memory = new RateLimiterMemory(base);
      const limiter = redis
        ? new RateLimiterRedis({
            ...base,
            storeClient: redis,
            insuranceLimiter: memory,
          } as IRateLimiterStoreOptions)
        : memory;
      return [name, limiter];
    }),
  ) as Record<RateLimitName, RateLimiterMemory | RateLimiterRedis>;

  return {
    async consume(name, key) {
      try {
        await limiters[name].consume(key);
      } catch (e) {
        if (e instanceof RateLimiterRes) throw refusal(name, e.msBeforeNext);
        throw e;
      }
    },
    async take(name, key) {
      const { points, seconds } = rules[name];
      const state = (res: RateLimiterRes): RateLimitState => ({
        limit: points,
        remaining: Math.max(0, res.remainingPoints),
        resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
        windowSeconds: seconds,
      });
      try {
        return state(await limiters[name].consume(key));
      } catch (e) {
        if (e instanceof RateLimiterRes) {
          const refused = refusal(name, e.msBeforeNext);
          (refused.details as Record<string, unknown>).rateLimit = state(e);
          throw refused;
        }
        throw e;
      }
    },
    async tryConsume(name, key) {
      try {
        await limiters[name].consume(key);
        return true;
      } catch (e) {
        if (e instanceof RateLimiterRes) return false;
        throw e;
      }
    },
    async refund(name, key) {
      await limiters[name].reward(key, 1);
    },
    async check(name, key) {
      const res = await limiters[name].get(key);
      if (res && res.consumedPoints >= rules[name].points) throw refusal(name, res.msBeforeNext);
    },
    async reset(name, key) {
      await limiters[name].delete(key);
    },
    async close() {
      await redis?.quit().catch(() => {});
    },
  };
}

/** Parses "points/seconds" (e.g. "5/60"), the form the RATE_LIMIT_* variables take. */
export function parseRateLimitRule(value: string): RateLimitRule | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!m) return undefined;
  const points = Number(m[1]);
  const seconds = Number(m[2]);
  return points > 0 && seconds > 0 ? { points, seconds } : undefined;
}
