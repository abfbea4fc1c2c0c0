// users.identities / users.unlinkIdentity: the OAuth providers linked to the signed-in account.
import { conflict, notFound } from '@woopdi/core';
import { userIdentities, users } from '@woopdi/db';
import { and, asc, count, eq } from 'drizzle-orm';
import type { ServiceDeps } from './deps.js';

export async function listIdentities(deps: ServiceDeps, userId: string) {
  const [rows, [user]] = await Promise.all([
    deps.db
      .select()
      .from(userIdentities)
      .where(eq(userIdentities.userId, userId))
      .orderBy(asc(userIdentities.createdAt), asc(userIdentities.id)),
    deps.db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId)),
  ]);
  return {
    hasPassword: Boolean(user?.passwordHash),
    identities: rows.map((r) => ({
      id: r.id,
      provider: r.provider,
      email: r.email,
      emailVerified: r.emailVerified,
      createdAt: r.createdAt.toISOString(),
      lastUsedAt: r.lastUsedAt.toISOString(),
    })),
  };
}

/** Unlinks one of the user's identities, never the last way to sign in (no password, one identity). */
export async function unlinkIdentity(deps: ServiceDeps, userId: string, identityId: string) {
  return deps.db.transaction(async (tx) => {
    // The user row is locked so two unlinks at once cannot both pass the "last method" check.
    const [user] = await tx
      .select({ passwordHash: users.passwordHash })
      .from(users)
      .where(eq(users.id, userId))
      .for('update');
    const [identity] = await tx
      .select()
      .from(userIdentities)
      .where(and(eq(userIdentities.id, identityId), eq(userIdentities.userId, userId)));
    // Another user's identity is answered like an unknown one.
    if (!identity) throw notFound('Linked sign-in');
    const [{ n }] = (await tx
      .select({ n: count() })
      .from(userIdentities)
      .where(eq(userIdentities.userId, userId))) as [{ n: number }];
    if (!user?.passwordHash && n <= 1) {
      throw conflict(
        `This is the only way to sign in to your account. Set a password first ("Forgot password", POST /api/auth/request-password-reset) or link another provider, then unlink ${identity.provider}.`,
      );
    }
    await tx.delete(userIdentities).where(eq(userIdentities.id, identity.id));
    deps.logger.info({ userId, provider: identity.provider }, 'identity unlinked');
    return { unlinked: true as const };
  });
}
