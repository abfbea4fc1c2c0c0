// Organization API keys: created by an ADMIN with a role no higher than their own, shown once,
// stored as an HMAC of the secret, revoked (never deleted) so the audit log can always name them.
import { randomBytes } from 'node:crypto';
import {
  apiKeyFamilyId,
  badRequest,
  conflict,
  emitWebhookEvent,
  forbidden,
  notFound,
  publishApiKeyChanged,
  publishUserEvent,
} from '@woopdi/core';
import { apiKeys, type OrgRole, users } from '@woopdi/db';
import { and, count, desc, eq, isNull } from 'drizzle-orm';
import { API_KEY_PREFIX, hashApiKeySecret } from '../middleware/api-key-auth.js';
import { hasOrgRole, type Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';

/** Live (unrevoked) keys one organization may hold; revoked ones do not count. */
export const MAX_LIVE_API_KEYS = 100;
/** Keys listed at most (newest first). */
const LIST_LIMIT = 500;
const MAX_LIFETIME_MS = 5 * 365 * 24 * 3600 * 1000;

type KeyRow = typeof apiKeys.$inferSelect;

const prefixOf = (keyId: string) => `${API_KEY_PREFIX}${keyId}`;

function statusOf(k: Pick<KeyRow, 'revokedAt' | 'expiresAt'>): 'active' | 'expired' | 'revoked' {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt.getTime() <= Date.now()) return 'expired';
  return 'active';
}

const publicKey = (k: KeyRow, creatorEmail: string | null) => ({
  id: k.id,
  name: k.name,
  prefix: prefixOf(k.keyId),
  role: k.role,
  status: statusOf(k),
  createdBy: { userId: k.createdBy, email: creatorEmail },
  createdAt: k.createdAt.toISOString(),
  expiresAt: k.expiresAt?.toISOString() ?? null,
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

export interface CreateApiKeyInput {
  name: string;
  role: OrgRole;
  expiresAt?: string | undefined;
}

/** Creates a key and answers its only showing: `wpd_<keyId>_<secret>`. */
export async function createApiKey(deps: ServiceDeps, actor: Membership, input: CreateApiKeyInput) {
  if (!hasOrgRole(actor.role, input.role)) {
    throw forbidden(
      `A key's role can be at most yours (${actor.role}): choose ${actor.role === 'MODERATOR' ? 'MEMBER or MODERATOR' : 'MEMBER'}.`,
    );
  }
  const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw badRequest('expiresAt: give a time in the future (or none for a key that does not expire).');
  }
  if (expiresAt && expiresAt.getTime() > Date.now() + MAX_LIFETIME_MS) {
    throw badRequest('expiresAt: a key can live at most 5 years.');
  }
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const row = await deps.db.transaction(async (tx) => {
    const [live] = await tx
      .select({ n: count() })
      .from(apiKeys)
      .where(and(eq(apiKeys.organizationId, actor.organizationId), isNull(apiKeys.revokedAt)));
    if ((live?.n ?? 0) >= MAX_LIVE_API_KEYS) {
      throw conflict(
        `This organization already has ${MAX_LIVE_API_KEYS} API keys: revoke unused ones first.`,
      );
    }
    const [created] = await tx
      .insert(apiKeys)
      .values({
        organizationId: actor.organizationId,
        keyId,
        name: input.name,
        secretHash: hashApiKeySecret(deps.config.apiKeyHashSecret, secret),
        role: input.role,
        createdBy: actor.userId,
        expiresAt,
      })
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      actorApiKeyId: created!.id,
      action: 'api_key.created',
      target: { type: 'api_key', id: created!.id },
      metadata: {
        name: input.name,
        role: input.role,
        prefix: prefixOf(keyId),
        expiresAt: input.expiresAt ?? null,
      },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'api_key.created', {
      apiKeyId: created!.id,
      name: input.name,
      prefix: prefixOf(keyId),
      role: input.role,
    });
    return created!;
  });
  const [creator] = await deps.db
    .select({ email: users.email })
    .from(users)
    .where(eq(users.id, row.createdBy));
  return { apiKey: publicKey(row, creator?.email ?? null), key: `${prefixOf(keyId)}_${secret}` };
}

export async function listApiKeys(deps: ServiceDeps, actor: Membership) {
  const rows = await deps.db
    .select({ key: apiKeys, creatorEmail: users.email })
    .from(apiKeys)
    .leftJoin(users, eq(users.id, apiKeys.createdBy))
    .where(eq(apiKeys.organizationId, actor.organizationId))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(LIST_LIMIT);
  return { apiKeys: rows.map((r) => publicKey(r.key, r.creatorEmail)) };
}

/** Revokes the key; every api instance refuses it (401) once the invalidation reaches it. */
export async function revokeApiKey(deps: ServiceDeps, actor: Membership, apiKeyId: string) {
  const row = await deps.db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, apiKeyId), eq(apiKeys.organizationId, actor.organizationId)))
      .for('update');
    if (!existing) throw notFound('API key');
    if (existing.revokedAt) return existing; // already revoked: the same answer, no second entry
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: new Date(), revokedBy: actor.userId })
      .where(eq(apiKeys.id, apiKeyId))
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      actorApiKeyId: apiKeyId,
      action: 'api_key.revoked',
      target: { type: 'api_key', id: apiKeyId },
      metadata: { name: existing.name, prefix: prefixOf(existing.keyId) },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'api_key.revoked', {
      apiKeyId,
      name: existing.name,
      prefix: prefixOf(existing.keyId),
    });
    return revoked!;
  });
  try {
    // Every instance refuses the key, and the task streams it has open end (they watch the
    // creator's channel for their session family).
    await Promise.all([
      publishApiKeyChanged(deps.bus, row.id),
      publishUserEvent(deps.bus, row.createdBy, {
        type: 'session.revoked',
        familyId: apiKeyFamilyId(row.id),
      }),
    ]);
  } catch (error) {
    // Committed: instances still refuse it once their cached copy ages out (30 s).
    deps.logger.warn({ err: error, apiKeyId: row.id }, 'API key revocation not broadcast');
  }
  return { revoked: true as const };
}
