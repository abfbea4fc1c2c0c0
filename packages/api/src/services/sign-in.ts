// Finishing a sign-in once the first factor (a password, an OAuth provider) is proven: straight to a
// session, or, with two-factor on, a short-lived challenge that auth.twoFactor.verify completes.
import { randomToken, sha256 } from '@woopdi/core';
import { type DbOrTx, twoFactorChallenges, type users, userTwoFactor } from '@woopdi/db';
import { and, eq, isNotNull } from 'drizzle-orm';
import type { ClientInfo, ServiceDeps } from './deps.js';
import { publicUser } from './serialize.js';
import { type IssuedTokens, startSession } from './sessions.js';

export const CHALLENGE_TTL_MS = 5 * 60_000;

type UserRow = typeof users.$inferSelect;

export type SignInResult =
  | { twoFactorRequired: false; user: ReturnType<typeof publicUser>; tokens: IssuedTokens }
  | { twoFactorRequired: true; challengeToken: string; challengeExpiresAt: string };

export async function twoFactorEnabled(db: DbOrTx, userId: string): Promise<boolean> {
  const [row] = await db
    .select({ userId: userTwoFactor.userId })
    .from(userTwoFactor)
    .where(and(eq(userTwoFactor.userId, userId), isNotNull(userTwoFactor.enabledAt)))
    .limit(1);
  return row !== undefined;
}

/**
 * "Sign this user in": the one place that decides between tokens and the two-factor step, for
 * every first factor (auth.login, the OAuth exchange). The caller has checked the account is enabled.
 */
export async function completeSignIn(
  deps: ServiceDeps,
  user: UserRow,
  client: ClientInfo,
): Promise<SignInResult> {
  if (await twoFactorEnabled(deps.db, user.id)) {
    const challengeToken = randomToken();
    const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS);
    await deps.db
      .insert(twoFactorChallenges)
      .values({ userId: user.id, tokenHash: sha256(challengeToken), expiresAt });
    return { twoFactorRequired: true, challengeToken, challengeExpiresAt: expiresAt.toISOString() };
  }
  const tokens = await startSession(deps, deps.db, user, client);
  return { twoFactorRequired: false, user: publicUser(user), tokens };
}
