// Organization API keys as credentials: `Authorization: Bearer wpd_<keyId>_<secret>`. The key row
// is cached per instance by its public id and dropped through the bus when it is revoked (every
// instance at once); the TTL only bounds a lost invalidation. Each use is counted against the key's
// rate limit, and last_used_at is written at most once a minute.
import { createHmac } from 'node:crypto';
import { AppError, apiKeyFamilyId, type RateLimitState, safeEqual, unauthorized } from '@woopdi/core';
import { apiKeys, type Db, type OrgRole, organizations, users } from '@woopdi/db';
import { and, eq, isNull, or, sql } from 'drizzle-orm';
import type { Context, Session } from '../context.js';
import { prepared } from '../prepared.js';
import { audit } from '../services/audit.js';

export const API_KEY_PREFIX = 'wpd_';
const KEY_PATTERN = /^wpd_([0-9a-f]{16})_([0-9a-f]{64})$/;
const LAST_USED_EVERY_MS = 60_000;

export const isApiKeyToken = (token: string) => token.startsWith(API_KEY_PREFIX);

/**
 * HMAC-SHA256 under the server's secret: the secret half is 256 random bits, so a slow password
 * hash adds nothing but latency on every request; the keyed hash keeps a stolen table useless.
 */
export const hashApiKeySecret = (hashSecret: Buffer, secret: string) =>
  createHmac('sha256', hashSecret).update(secret).digest('hex');

/** The parts of a well-formed key, or undefined. */
export function parseApiKey(token: string): { keyId: string; secret: string } | undefined {
  const m = KEY_PATTERN.exec(token);
  return m ? { keyId: m[1]!, secret: m[2]! } : undefined;
}

export interface CachedApiKey {
  id: string;
  keyId: string;
  name: string;
  organizationId: string;
  role: OrgRole;
  secretHash: string;
  createdBy: string;
  creatorEmail: string;
  isSolo: boolean;
  expiresAt: number | null;
  revoked: boolean;
  organizationDeleted: boolean;
  /** When this instance last wrote (or saw) last_used_at. */
  lastUsedAt: number | null;
}

const keyById = (db: Db) =>
  db
    .select({
      id: apiKeys.id,
      keyId: apiKeys.keyId,
      name: apiKeys.name,
      organizationId: apiKeys.organizationId,
      role: apiKeys.role,
      secretHash: apiKeys.secretHash,
      createdBy: apiKeys.createdBy,
      creatorEmail: users.email,
      isSolo: organizations.isSolo,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
      lastUsedAt: apiKeys.lastUsedAt,
      organizationDeletedAt: organizations.deletedAt,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.createdBy))
    .innerJoin(organizations, eq(organizations.id, apiKeys.organizationId))
    .where(eq(apiKeys.keyId, sql.placeholder('keyId')))
    .limit(1)
    .prepare('api_key_by_id');

async function loadKey(ctx: Context, keyId: string): Promise<CachedApiKey | undefined> {
  const cache = ctx.authCache?.apiKeys;
  const cached = cache?.get(keyId);
  if (cached) {
    cache!.refreshAhead(keyId, () => readKey(ctx, keyId));
    return cached;
  }
  const epoch = ctx.authCache?.epoch;
  const key = await readKey(ctx, keyId);
  if (key && ctx.authCache?.fresh(epoch)) cache?.set(keyId, key);
  return key;
}

async function readKey(ctx: Context, keyId: string): Promise<CachedApiKey | undefined> {
  const [row] = await prepared(ctx.db, 'api_key_by_id', keyById).execute({ keyId });
  if (!row) return undefined;
  return {
    id: row.id,
    keyId: row.keyId,
    name: row.name,
    organizationId: row.organizationId,
    role: row.role,
    secretHash: row.secretHash,
    createdBy: row.createdBy,
    creatorEmail: row.creatorEmail,
    isSolo: row.isSolo,
    expiresAt: row.expiresAt?.getTime() ?? null,
    revoked: row.revokedAt !== null,
    organizationDeleted: row.organizationDeletedAt !== null,
    lastUsedAt: row.lastUsedAt?.getTime() ?? null,
  };
}

const INVALID = 'This API key is not valid: check that it was copied whole, or create a new one.';

/** The session an API key acts as; 401 for a malformed, unknown, revoked or expired key. */
export async function authenticateApiKey(ctx: Context, token: string): Promise<Session> {
  const parts = parseApiKey(token);
  if (!parts) throw unauthorized(INVALID);
  const key = await loadKey(ctx, parts.keyId);
  if (!key || !safeEqual(hashApiKeySecret(ctx.config.apiKeyHashSecret, parts.secret), key.secretHash)) {
    throw unauthorized(INVALID);
  }
  if (key.revoked) throw unauthorized('This API key was revoked: create a new one.');
  if (key.organizationDeleted) throw unauthorized("This API key's organization was deleted.");
  if (key.expiresAt !== null && key.expiresAt <= Date.now()) {
    throw unauthorized(`This API key expired at ${new Date(key.expiresAt).toISOString()}: create a new one.`);
  }
  if (ctx.logFields) ctx.logFields.apiKeyId = key.keyId;
  await countUse(ctx, key);
  await touch(ctx, key);
  return {
    userId: key.createdBy,
    sessionId: apiKeyFamilyId(key.id),
    familyId: apiKeyFamilyId(key.id),
    systemRole: 'user',
    email: key.creatorEmail,
    apiKey: {
      id: key.id,
      keyId: key.keyId,
      name: key.name,
      organizationId: key.organizationId,
      role: key.role,
      isSolo: key.isSolo,
    },
  };
}

function setRateLimitHeaders(ctx: Context, state: RateLimitState) {
  if (!ctx.setHeader) return;
  ctx.setHeader('RateLimit-Limit', String(state.limit));
  ctx.setHeader('RateLimit-Remaining', String(state.remaining));
  ctx.setHeader('RateLimit-Reset', String(state.resetSeconds));
  ctx.setHeader('RateLimit-Policy', `${state.limit};w=${state.windowSeconds}`);
}

/** One request against the key's limit (RATE_LIMIT_API_KEY); 429 with Retry-After past it. */
async function countUse(ctx: Context, key: CachedApiKey) {
  try {
    setRateLimitHeaders(ctx, await ctx.rateLimits.take('apiKey', key.id));
  } catch (error) {
    const state = error instanceof AppError ? (error.details?.rateLimit as RateLimitState) : undefined;
    if (state) setRateLimitHeaders(ctx, state);
    throw error;
  }
}

/**
 * last_used_at at most once a minute (per key, across instances: the update is conditional); the
 * first use ever is audited with the key as the actor.
 */
async function touch(ctx: Context, key: CachedApiKey) {
  const now = Date.now();
  if (key.lastUsedAt !== null && now - key.lastUsedAt < LAST_USED_EVERY_MS) return;
  key.lastUsedAt = now;
  try {
    await ctx.db.transaction(async (tx) => {
      const [before] = await tx
        .select({ lastUsedAt: apiKeys.lastUsedAt })
        .from(apiKeys)
        .where(eq(apiKeys.id, key.id))
        .for('update');
      const [updated] = await tx
        .update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(
          and(
            eq(apiKeys.id, key.id),
            or(isNull(apiKeys.lastUsedAt), sql`${apiKeys.lastUsedAt} < now() - interval '1 minute'`),
          ),
        )
        .returning({ id: apiKeys.id });
      if (updated && before && before.lastUsedAt === null) {
        await audit(tx, {
          organizationId: key.organizationId,
          actorUserId: null,
          actorApiKeyId: key.id,
          action: 'api_key.first_used',
          target: { type: 'api_key', id: key.id },
          metadata: { name: key.name, prefix: `${API_KEY_PREFIX}${key.keyId}` },
        });
      }
    });
  } catch (error) {
    // Bookkeeping only: the request itself goes on (a failing database fails it elsewhere).
    ctx.logger.warn({ err: error, apiKeyId: key.keyId }, 'could not record API key use');
  }
}
