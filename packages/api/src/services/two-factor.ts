// TOTP two-factor: enrolling an authenticator, turning it on and off, and the sign-in's second step.
// Codes are accepted once (services/totp.ts); wrong codes count against RATE_LIMIT_TWO_FACTOR per
// account; turning it on or off signs out the user's other sessions and emails them.
import {
  badRequest,
  conflict,
  publishUserEvent,
  queueEmail,
  sha256,
  unauthorized,
  verifyPassword,
} from '@woopdi/core';
import { type DbOrTx, twoFactorChallenges, twoFactorRecoveryCodes, users, userTwoFactor } from '@woopdi/db';
import { and, eq, isNull } from 'drizzle-orm';
import type { Session } from '../context.js';
import type { ClientInfo, ServiceDeps } from './deps.js';
import { publicUser } from './serialize.js';
import { revokeAllForUser, startSession } from './sessions.js';
import { acceptedStep, newRecoveryCodes, newSecret, recoveryCodeHash } from './totp.js';

const WRONG_CODE =
  'That code is not right, or was already used: enter the current 6-digit code from your authenticator app.';
const WRONG_RECOVERY_CODE = 'That recovery code is not right, or was already used.';
const CHALLENGE_UNKNOWN =
  'This sign-in step is unknown or was already used: sign in again with your email and password.';
const CHALLENGE_EXPIRED =
  'This sign-in step expired (it lasts 5 minutes): sign in again with your email and password.';

async function lockFactor(tx: DbOrTx, userId: string) {
  const [row] = await tx.select().from(userTwoFactor).where(eq(userTwoFactor.userId, userId)).for('update');
  return row;
}

/** Starts (or restarts) an enrollment: nothing changes for sign-in until confirm. */
export async function enroll(deps: ServiceDeps, session: Session) {
  const fresh = await newSecret(deps.config.encryptionKeys, session.email);
  const [row] = await deps.db
    .insert(userTwoFactor)
    .values({ userId: session.userId, sealedSecret: fresh.sealedSecret })
    .onConflictDoUpdate({
      target: userTwoFactor.userId,
      set: { sealedSecret: fresh.sealedSecret, lastUsedStep: null, createdAt: new Date() },
      // An enabled factor is never replaced behind the user's back.
      setWhere: isNull(userTwoFactor.enabledAt),
    })
    .returning({ userId: userTwoFactor.userId });
  if (!row) {
    throw conflict(
      'Two-factor is already on. To use another authenticator, turn it off first (POST /api/auth/2fa/disable), then enroll again.',
    );
  }
  return {
    secret: fresh.secret,
    otpauthUri: fresh.otpauthUri,
    qrCodeSvgDataUrl: fresh.qrCodeSvgDataUrl,
  };
}

/** After the change commits: the other sessions end at once on every instance. */
const announce = (deps: ServiceDeps, session: Session) =>
  publishUserEvent(deps.bus, session.userId, {
    type: 'session.revoked',
    familyId: null,
    exceptFamilyId: session.familyId,
  });

async function securityChanged(
  tx: DbOrTx,
  session: Session,
  change: 'two_factor_enabled' | 'two_factor_disabled',
) {
  await revokeAllForUser(tx, session.userId, session.familyId);
  const [user] = await tx.select().from(users).where(eq(users.id, session.userId));
  await queueEmail(tx, {
    to: user!.email,
    template: 'security_changed',
    payload: { name: user!.name, email: user!.email, change },
  });
}

/** Turns two-factor on with a first code from the app; answers the recovery codes, once. */
export async function confirm(deps: ServiceDeps, session: Session, code: string) {
  await deps.rateLimits.consume('twoFactor', session.userId);
  const recoveryCodes = newRecoveryCodes();
  await deps.db.transaction(async (tx) => {
    const factor = await lockFactor(tx, session.userId);
    if (!factor) {
      throw badRequest(
        'Start with POST /api/auth/2fa/enroll: it gives the secret to add to your authenticator app.',
      );
    }
    if (factor.enabledAt) throw conflict('Two-factor is already on.');
    const step = acceptedStep(deps.config.encryptionKeys, factor.sealedSecret, code, factor.lastUsedStep);
    if (step === null) throw badRequest(WRONG_CODE);
    await tx
      .update(userTwoFactor)
      .set({ enabledAt: new Date(), lastUsedStep: step })
      .where(eq(userTwoFactor.userId, session.userId));
    await tx.delete(twoFactorRecoveryCodes).where(eq(twoFactorRecoveryCodes.userId, session.userId));
    await tx
      .insert(twoFactorRecoveryCodes)
      .values(recoveryCodes.map((c) => ({ userId: session.userId, codeHash: recoveryCodeHash(c) })));
    await securityChanged(tx, session, 'two_factor_enabled');
  });
  await deps.rateLimits.refund('twoFactor', session.userId);
  await announce(deps, session);
  return {
    recoveryCodes,
    message:
      'Two-factor is on. Keep these recovery codes somewhere safe: each signs you in once if you lose your authenticator, and they are not shown again. Your other sessions were signed out.',
  };
}

/** Turns two-factor off, proven by a current code or the account's password. */
export async function disable(
  deps: ServiceDeps,
  session: Session,
  proof: { code?: string | undefined; password?: string | undefined },
) {
  await deps.rateLimits.consume('twoFactor', session.userId);
  await deps.db.transaction(async (tx) => {
    const factor = await lockFactor(tx, session.userId);
    if (!factor?.enabledAt) throw conflict('Two-factor is not on for this account.');
    if (proof.code !== undefined) {
      const step = acceptedStep(
        deps.config.encryptionKeys,
        factor.sealedSecret,
        proof.code,
        factor.lastUsedStep,
      );
      if (step === null) throw badRequest(WRONG_CODE);
    } else {
      const [user] = await tx.select().from(users).where(eq(users.id, session.userId));
      // An account made through a sign-in provider has no password: only a code turns it off.
      if (!user?.passwordHash) {
        throw badRequest('This account has no password: turn two-factor off with a code from your app.');
      }
      if (!(await verifyPassword(user.passwordHash, proof.password ?? ''))) {
        throw badRequest('That password is not right.');
      }
    }
    await tx.delete(userTwoFactor).where(eq(userTwoFactor.userId, session.userId));
    await tx.delete(twoFactorRecoveryCodes).where(eq(twoFactorRecoveryCodes.userId, session.userId));
    await tx.delete(twoFactorChallenges).where(eq(twoFactorChallenges.userId, session.userId));
    await securityChanged(tx, session, 'two_factor_disabled');
  });
  await deps.rateLimits.refund('twoFactor', session.userId);
  await announce(deps, session);
  return { message: 'Two-factor is off. Your other sessions were signed out.' };
}

/** The sign-in's second step: a challenge from auth.login plus a code (or a recovery code) → tokens. */
export async function verify(
  deps: ServiceDeps,
  input: { challengeToken: string; code?: string | undefined; recoveryCode?: string | undefined },
  client: ClientInfo,
) {
  const tokenHash = sha256(input.challengeToken);
  const [found] = await deps.db
    .select()
    .from(twoFactorChallenges)
    .where(eq(twoFactorChallenges.tokenHash, tokenHash))
    .limit(1);
  if (!found || found.usedAt) throw unauthorized(CHALLENGE_UNKNOWN);
  if (found.expiresAt <= new Date()) throw unauthorized(CHALLENGE_EXPIRED);
  // Per account, counted before the code is checked, so parallel guesses cannot outrun it.
  await deps.rateLimits.consume('twoFactor', found.userId);
  const result = await deps.db.transaction(async (tx) => {
    const [challenge] = await tx
      .select()
      .from(twoFactorChallenges)
      .where(eq(twoFactorChallenges.id, found.id))
      .for('update');
    if (!challenge || challenge.usedAt) throw unauthorized(CHALLENGE_UNKNOWN);
    const factor = await lockFactor(tx, challenge.userId);
    if (!factor?.enabledAt) throw unauthorized(CHALLENGE_UNKNOWN);
    if (input.code !== undefined) {
      const step = acceptedStep(
        deps.config.encryptionKeys,
        factor.sealedSecret,
        input.code,
        factor.lastUsedStep,
      );
      if (step === null) throw unauthorized(WRONG_CODE);
      await tx
        .update(userTwoFactor)
        .set({ lastUsedStep: step })
        .where(eq(userTwoFactor.userId, challenge.userId));
    } else {
      const [used] = await tx
        .update(twoFactorRecoveryCodes)
        .set({ usedAt: new Date() })
        .where(
          and(
            eq(twoFactorRecoveryCodes.userId, challenge.userId),
            eq(twoFactorRecoveryCodes.codeHash, recoveryCodeHash(input.recoveryCode ?? '')),
            isNull(twoFactorRecoveryCodes.usedAt),
          ),
        )
        .returning({ id: twoFactorRecoveryCodes.id });
      if (!used) throw unauthorized(WRONG_RECOVERY_CODE);
    }
    await tx
      .update(twoFactorChallenges)
      .set({ usedAt: new Date() })
      .where(eq(twoFactorChallenges.id, challenge.id));
    const [user] = await tx.select().from(users).where(eq(users.id, challenge.userId));
    if (!user || user.disabledAt) throw unauthorized('This account is disabled. Contact your administrator.');
    const tokens = await startSession(deps, tx, user, client);
    return { user: publicUser(user), tokens };
  });
  await deps.rateLimits.refund('twoFactor', found.userId);
  return result;
}
