import {
  conflict,
  dummyPasswordHash,
  hashPassword,
  publishUserEvent,
  queueEmail,
  unauthorized,
  verifyPassword,
} from '@woopdi/core';
import { users } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import type { ClientInfo, ServiceDeps } from './deps.js';
import { isUniqueViolation } from './deps.js';
import { consumeOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { createSoloOrganization } from './organizations.js';
import { publicUser } from './serialize.js';
import { revokeAllForUser, revokeFamily, rotate, startSession } from './sessions.js';
import { completeSignIn } from './sign-in.js';

const LOGIN_FAILED = 'The email or password is incorrect.';
const GENERIC_RESEND =
  'If an account with this email exists and is not verified yet, a new verification link has been sent.';
const GENERIC_RESET = 'If an account with this email exists, a password reset link has been sent.';

const linkUrl = (deps: ServiceDeps, path: string, token: string) =>
  `${deps.config.webClientUrl}${path}?token=${encodeURIComponent(token)}`;

export async function signup(
  deps: ServiceDeps,
  input: { email: string; password: string; name?: string | undefined },
  client: ClientInfo,
) {
  await deps.rateLimits.consume('signup', client.ip ?? 'unknown');
  const passwordHash = await hashPassword(input.password);
  try {
    return await deps.db.transaction(async (tx) => {
      const [user] = await tx
        .insert(users)
        .values({ email: input.email, name: input.name ?? null, passwordHash })
        .returning();
      await createSoloOrganization(tx, user!);
      const token = await issueOneTimeToken(tx, user!.id, 'verify_email');
      await queueEmail(tx, {
        to: user!.email,
        template: 'verify_email',
        payload: { name: user!.name, url: linkUrl(deps, '/confirm-email', token) },
      });
      const tokens = await startSession(deps, tx, user!, client);
      return { user: publicUser(user!), tokens };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_key')) {
      throw conflict(
        'An account with this email already exists. Sign in, or reset your password if you forgot it.',
      );
    }
    throw error;
  }
}

export async function login(
  deps: ServiceDeps,
  input: { email: string; password: string },
  client: ClientInfo,
) {
  // Counted before the password check, atomically (Redis INCR in service mode), so a burst of
  // concurrent attempts (a tRPC batch, parallel requests) lets only the allowed number through;
  // a right password gives its attempts back.
  const address = client.ip ?? 'unknown';
  await deps.rateLimits.consume('loginAddress', address);
  await deps.rateLimits.consume('login', input.email);
  const user = await deps.db.query.users.findFirst({ where: eq(users.email, input.email) });
  // Unknown emails (and accounts without a password, made through a provider) still pay for one
  // hash check and get the same answer, so neither timing nor message tells them apart.
  const ok = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), input.password);
  if (!user || !ok) throw unauthorized(LOGIN_FAILED);
  await Promise.all([
    deps.rateLimits.refund('loginAddress', address),
    deps.rateLimits.refund('login', input.email),
  ]);
  return signIn(deps, user, client);
}

/**
 * The one step that signs a person in once they are identified (password login, the OAuth
 * exchange): refuses a disabled account and starts a session.
 */
export async function signIn(deps: ServiceDeps, user: typeof users.$inferSelect, client: ClientInfo) {
  if (user.disabledAt) throw unauthorized('This account is disabled. Contact your administrator.');
  return completeSignIn(deps, user, client);
}

export const refresh = (deps: ServiceDeps, refreshToken: string, client: ClientInfo) =>
  rotate(deps, refreshToken, client);

export async function logout(
  deps: ServiceDeps,
  session: { userId: string; familyId: string },
  everywhere: boolean,
) {
  if (everywhere) await revokeAllForUser(deps.db, session.userId);
  else await revokeFamily(deps.db, session.familyId);
  await publishUserEvent(deps.bus, session.userId, {
    type: 'session.revoked',
    familyId: everywhere ? null : session.familyId,
  });
  return { message: everywhere ? 'Signed out of every session.' : 'Signed out.' };
}

export async function verifyEmail(deps: ServiceDeps, token: string) {
  return deps.db.transaction(async (tx) => {
    const userId = await consumeOneTimeToken(tx, token, 'verify_email');
    const [user] = await tx
      .update(users)
      .set({ emailVerifiedAt: new Date() })
      .where(eq(users.id, userId))
      .returning();
    return { message: 'Your email address is verified.', user: publicUser(user!) };
  });
}

/**
 * Emails a single-use link (verification or reset) to an account that qualifies, and answers the
 * same either way, so the endpoint does not reveal which emails have accounts.
 */
async function emailLinkTo(
  deps: ServiceDeps,
  email: string,
  client: ClientInfo,
  link: {
    purpose: 'verify_email' | 'reset_password';
    path: string;
    eligible: (u: typeof users.$inferSelect) => boolean;
  },
) {
  await deps.rateLimits.consume('passwordReset', client.ip ?? 'unknown');
  // Per recipient too, whatever the client address: beyond it nothing is sent, and the answer
  // stays the same generic one (refusing would tell who asked for links to this address).
  if (!(await deps.rateLimits.tryConsume('emailRecipient', email))) return;
  await deps.db.transaction(async (tx) => {
    const user = await tx.query.users.findFirst({ where: eq(users.email, email) });
    if (!user || user.disabledAt || !link.eligible(user)) return;
    const token = await issueOneTimeToken(tx, user.id, link.purpose);
    await queueEmail(tx, {
      to: user.email,
      template: link.purpose,
      payload: { name: user.name, url: linkUrl(deps, link.path, token) },
    });
  });
}

export async function resendVerification(deps: ServiceDeps, email: string, client: ClientInfo) {
  const path = '/confirm-email';
  await emailLinkTo(deps, email, client, {
    purpose: 'verify_email',
    path,
    eligible: (u) => !u.emailVerifiedAt,
  });
  return { message: GENERIC_RESEND };
}

export async function requestPasswordReset(deps: ServiceDeps, email: string, client: ClientInfo) {
  await emailLinkTo(deps, email, client, {
    purpose: 'reset_password',
    path: '/reset-password',
    eligible: () => true,
  });
  return { message: GENERIC_RESET };
}

export async function resetPassword(deps: ServiceDeps, token: string, newPassword: string) {
  const passwordHash = await hashPassword(newPassword);
  const userId = await deps.db.transaction(async (tx) => {
    const userId = await consumeOneTimeToken(tx, token, 'reset_password');
    const [user] = await tx
      .update(users)
      // The link reached the inbox, which proves the address too.
      .set({ passwordHash, emailVerifiedAt: new Date() })
      .where(eq(users.id, userId))
      .returning();
    await revokeAllForUser(tx, userId);
    await queueEmail(tx, {
      to: user!.email,
      template: 'password_changed',
      payload: { name: user!.name, email: user!.email },
    });
    return userId;
  });
  await publishUserEvent(deps.bus, userId, { type: 'session.revoked', familyId: null });
  return {
    message: 'Your password has been reset. Every session was signed out; sign in with the new password.',
  };
}
