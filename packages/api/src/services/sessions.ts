import { randomUUID } from 'node:crypto';
import { publishUserEvent, randomToken, sha256, unauthorized } from '@woopdi/core';
import { type DbOrTx, type SystemRole, sessions } from '@woopdi/db';
import { and, eq, isNull, ne } from 'drizzle-orm';
import type { ClientInfo, ServiceDeps } from './deps.js';

export interface IssuedTokens {
  tokenType: 'Bearer';
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

async function issue(
  deps: ServiceDeps,
  tx: DbOrTx,
  user: { id: string; systemRole: SystemRole },
  familyId: string,
  client: ClientInfo,
): Promise<IssuedTokens> {
  const refreshToken = randomToken();
  const refreshTokenExpiresAt = new Date(Date.now() + deps.config.jwt.refreshTtlSeconds * 1000);
  const [row] = await tx
    .insert(sessions)
    .values({
      userId: user.id,
      familyId,
      refreshTokenHash: sha256(refreshToken),
      expiresAt: refreshTokenExpiresAt,
      userAgent: client.userAgent,
      ip: client.ip,
    })
    .returning({ id: sessions.id });
  const access = await deps.accessTokens.sign({ sub: user.id, sid: row!.id, role: user.systemRole });
  return {
    tokenType: 'Bearer',
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt.toISOString(),
    refreshToken,
    refreshTokenExpiresAt: refreshTokenExpiresAt.toISOString(),
  };
}

/** Starts a new sign-in: a new session family. */
export const startSession = (
  deps: ServiceDeps,
  tx: DbOrTx,
  user: { id: string; systemRole: SystemRole },
  client: ClientInfo,
) => issue(deps, tx, user, randomUUID(), client);

const REUSED =
  'This refresh token was already used, so every session of this sign-in has been ended for your safety. Sign in again.';

/**
 * Rotates a refresh token. Presenting a token that was already rotated means it leaked (or a client
 * raced itself): the whole family is revoked.
 */
export async function rotate(
  deps: ServiceDeps,
  refreshToken: string,
  client: ClientInfo,
): Promise<IssuedTokens> {
  const hash = sha256(refreshToken);
  type Outcome = { tokens?: IssuedTokens; error?: string; reuse?: { familyId: string; userId: string } };
  const outcome = await deps.db.transaction(async (tx): Promise<Outcome> => {
    const [current] = await tx
      .select()
      .from(sessions)
      .where(eq(sessions.refreshTokenHash, hash))
      .for('update')
      .limit(1);
    if (!current) return { error: 'Your refresh token is not valid: sign in again.' };
    if (current.revokedAt) return { error: 'Your session has ended: sign in again.' };
    if (current.rotatedAt) return { reuse: { familyId: current.familyId, userId: current.userId } };
    if (current.expiresAt <= new Date()) return { error: 'Your session has expired: sign in again.' };
    await tx.update(sessions).set({ rotatedAt: new Date() }).where(eq(sessions.id, current.id));
    const user = await tx.query.users.findFirst({ where: (u, { eq }) => eq(u.id, current.userId) });
    if (!user || user.disabledAt) return { error: 'This account is disabled. Contact your administrator.' };
    return { tokens: await issue(deps, tx, user, current.familyId, client) };
  });
  if (outcome.reuse !== undefined) {
    const { familyId, userId } = outcome.reuse;
    await revokeFamily(deps.db, familyId);
    await publishUserEvent(deps.bus, userId, { type: 'session.revoked', familyId });
    deps.logger.warn({ familyId }, 'refresh token reuse detected; session family revoked');
    throw unauthorized(REUSED);
  }
  if (outcome.error !== undefined) throw unauthorized(outcome.error);
  return outcome.tokens!;
}

export async function revokeFamily(db: DbOrTx, familyId: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.familyId, familyId), isNull(sessions.revokedAt)));
}

/** Revokes every session of a user, optionally sparing one family (the caller's own sign-in). */
export async function revokeAllForUser(db: DbOrTx, userId: string, exceptFamilyId?: string): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(sessions.userId, userId),
        isNull(sessions.revokedAt),
        exceptFamilyId ? ne(sessions.familyId, exceptFamilyId) : undefined,
      ),
    );
}
