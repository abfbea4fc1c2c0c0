import { AppError, badRequest, randomToken, sha256 } from '@woopdi/core';
import { type DbOrTx, type OneTimeTokenPurpose, oneTimeTokens } from '@woopdi/db';
import { and, eq, isNull } from 'drizzle-orm';

export const oneTimeTokenTtlMs: Record<OneTimeTokenPurpose, number> = {
  verify_email: 24 * 3600_000,
  reset_password: 2 * 3600_000,
  // The code the OAuth callback hands the front end: exchanged at once, so short.
  oauth_sign_in: 2 * 60_000,
};

/** Issues a single-use token, voiding the user's earlier unused tokens of the same purpose. */
export async function issueOneTimeToken(
  tx: DbOrTx,
  userId: string,
  purpose: OneTimeTokenPurpose,
): Promise<string> {
  await tx
    .update(oneTimeTokens)
    .set({ usedAt: new Date() })
    .where(
      and(eq(oneTimeTokens.userId, userId), eq(oneTimeTokens.purpose, purpose), isNull(oneTimeTokens.usedAt)),
    );
  const token = randomToken();
  await tx.insert(oneTimeTokens).values({
    userId,
    purpose,
    tokenHash: sha256(token),
    expiresAt: new Date(Date.now() + oneTimeTokenTtlMs[purpose]),
  });
  return token;
}

const what: Record<OneTimeTokenPurpose, { link: string; renew: string }> = {
  verify_email: {
    link: 'verification link',
    renew: 'Request a new one with POST /api/auth/resend-verification.',
  },
  reset_password: {
    link: 'password reset link',
    renew: 'Request a new one with POST /api/auth/request-password-reset.',
  },
  oauth_sign_in: {
    link: 'sign-in code',
    renew: 'Sign in again with your provider (GET /oauth/{provider}/start).',
  },
};

/**
 * Consumes a token inside the caller's transaction: 404 when unknown or used, 400 when expired
 * (tRPC has no 410; the message says it expired and how to get a new one).
 */
export async function consumeOneTimeToken(
  tx: DbOrTx,
  token: string,
  purpose: OneTimeTokenPurpose,
): Promise<string> {
  const [row] = await tx
    .select()
    .from(oneTimeTokens)
    .where(and(eq(oneTimeTokens.tokenHash, sha256(token)), eq(oneTimeTokens.purpose, purpose)))
    .for('update')
    .limit(1);
  const { link, renew } = what[purpose];
  if (!row || row.usedAt)
    throw new AppError('NOT_FOUND', `This ${link} is unknown or was already used. ${renew}`);
  if (row.expiresAt <= new Date()) throw badRequest(`This ${link} has expired. ${renew}`, { expired: true });
  await tx.update(oneTimeTokens).set({ usedAt: new Date() }).where(eq(oneTimeTokens.id, row.id));
  return row.userId;
}
