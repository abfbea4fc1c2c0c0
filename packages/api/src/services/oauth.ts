// OAuth / OpenID Connect sign-in (issue #18): /oauth/{provider}/start → the provider →
// /oauth/{provider}/callback → the front end with a one-time code → auth.oauthExchange. The
// express routes (packages/server/src/oauth-routes.ts) only carry HTTP in and out of these.
import { badRequest, isAppError, queueEmail, sha256, unauthorized } from '@woopdi/core';
import { type DbOrTx, oauthStates, userIdentities, users } from '@woopdi/db';
import { and, eq, lt } from 'drizzle-orm';
import { signIn } from './auth.js';
import type { ClientInfo, ServiceDeps } from './deps.js';
import { isUniqueViolation } from './deps.js';
import {
  beginAuthorization,
  completeAuthorization,
  findProvider,
  OAuthFailure,
  type OAuthProfile,
} from './oauth-providers.js';
import { consumeOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { createSoloOrganization } from './organizations.js';

/** How long a started authorization may take at the provider. */
export const OAUTH_STATE_TTL_MS = 10 * 60_000;
const MAX_REDIRECT_LENGTH = 2000;

type UserRow = typeof users.$inferSelect;

export function listProviders(deps: Pick<ServiceDeps, 'config'>) {
  return {
    providers: deps.config.oauth.providers.map((p) => ({
      name: p.name,
      label: p.label,
      kind: p.kind,
      startUrl: `${deps.config.apiHost ?? ''}/oauth/${p.name}/start`,
    })),
  };
}

/** `redirectTo` must be an address of the web app: WEB_CLIENT_URL's or one of CORS_ORIGINS' origin. */
export function assertRedirectTo(deps: Pick<ServiceDeps, 'config'>, redirectTo: string | undefined): string {
  const allowed = [deps.config.webClientUrl, ...deps.config.corsOrigins];
  const hint = `Give redirectTo as an address of the web app (${allowed.join(', ')}), e.g. ${deps.config.webClientUrl}/oauth/callback.`;
  if (!redirectTo) throw badRequest(`redirectTo is missing. ${hint}`);
  if (redirectTo.length > MAX_REDIRECT_LENGTH) throw badRequest(`redirectTo is too long. ${hint}`);
  let url: URL;
  try {
    url = new URL(redirectTo);
  } catch {
    throw badRequest(`redirectTo is not a URL. ${hint}`);
  }
  // Origins, not string prefixes: "http://app.test.evil.example" starts with "http://app.test".
  const origins = allowed.flatMap((a) => {
    try {
      return [new URL(a).origin];
    } catch {
      return [];
    }
  });
  if (!['http:', 'https:'].includes(url.protocol) || !origins.includes(url.origin))
    throw badRequest(`redirectTo is not an address of this web app. ${hint}`);
  return url.href;
}

/**
 * Starts an authorization: the pending state (state hashed, PKCE verifier, nonce, where to return)
 * kept server-side for 10 minutes. `linkUserId` when a signed-in user links the provider.
 * Answers the provider's URL and the state, which the route binds to the browser with a cookie.
 */
export async function startAuthorization(
  deps: ServiceDeps,
  providerName: string,
  input: { redirectTo: string | undefined; requestOrigin: string; linkUserId?: string; ip?: string | null },
) {
  const provider = findProvider(deps, providerName);
  const redirectTo = assertRedirectTo(deps, input.redirectTo);
  // A sign-in attempt from this address, as a password login is (RATE_LIMIT_LOGIN_ADDRESS); given
  // back when it completes. It also bounds the pending rows anonymous callers can create.
  if (!input.linkUserId) await deps.rateLimits.consume('loginAddress', input.ip ?? 'unknown');
  const redirectUri = `${deps.config.apiHost ?? input.requestOrigin}/oauth/${provider.name}/callback`;
  const begun = await beginAuthorization(deps, provider, redirectUri);
  // Expired rows go as new ones come: the table holds only sign-ins of the last 10 minutes.
  await deps.db.delete(oauthStates).where(lt(oauthStates.expiresAt, new Date()));
  await deps.db.insert(oauthStates).values({
    stateHash: sha256(begun.state),
    provider: provider.name,
    codeVerifier: begun.codeVerifier,
    nonce: begun.nonce,
    redirectTo,
    redirectUri,
    linkUserId: input.linkUserId ?? null,
    expiresAt: new Date(Date.now() + OAUTH_STATE_TTL_MS),
  });
  return { url: begun.url, state: begun.state };
}

const withParam = (base: string, name: string, value: string) => {
  const url = new URL(base);
  url.searchParams.set(name, value);
  return url.href;
};

/**
 * Finishes an authorization and answers where to send the browser: `redirectTo?code=<one-time
 * code>` (sign-in), `redirectTo?linked=<provider>` (linking), or `?error=<message>`. Never throws
 * for anything the person or the provider did; every refusal is a sentence in `error`.
 * `browserState`: the state the start route bound to this browser (its cookie).
 */
export async function finishAuthorization(
  deps: ServiceDeps,
  providerName: string,
  input: { query: URLSearchParams; browserState: string | undefined; ip?: string | null },
): Promise<string> {
  const fallback = deps.config.webClientUrl;
  const state = input.query.get('state');
  if (!state || state.length > 200)
    return withParam(fallback, 'error', 'The sign-in answer has no state. Start the sign-in again.');
  const [pending] = await deps.db
    .delete(oauthStates)
    .where(and(eq(oauthStates.stateHash, sha256(state)), eq(oauthStates.provider, providerName.slice(0, 40))))
    .returning();
  if (!pending || pending.expiresAt <= new Date()) {
    return withParam(
      pending?.redirectTo ?? fallback,
      'error',
      'This sign-in expired or was already used. Start the sign-in again.',
    );
  }
  const fail = (message: string) => withParam(pending.redirectTo, 'error', message);
  try {
    const provider = findProvider(deps, pending.provider);
    // A sign-in must come back to the browser that started it (else a stranger's finished sign-in
    // could be planted on this browser); a link is bound to the signed-in user instead.
    if (!pending.linkUserId && input.browserState !== state) {
      return fail(
        'This sign-in was started in another browser or tab (or cookies are blocked). Start the sign-in again here.',
      );
    }
    const providerError = input.query.get('error');
    if (providerError) {
      return fail(
        providerError === 'access_denied'
          ? `The sign-in was cancelled at ${provider.label}.`
          : `${provider.label} refused the sign-in (${providerError.slice(0, 100)}). Start again.`,
      );
    }
    const callbackUrl = new URL(pending.redirectUri);
    callbackUrl.search = input.query.toString();
    const profile = await completeAuthorization(deps, provider, callbackUrl, {
      state,
      codeVerifier: pending.codeVerifier,
      nonce: pending.nonce,
    });
    if (pending.linkUserId) {
      await linkIdentity(deps, pending.linkUserId, provider, profile);
      return withParam(pending.redirectTo, 'linked', provider.name);
    }
    const code = await signInCode(deps, provider, profile);
    await deps.rateLimits.refund('loginAddress', input.ip ?? 'unknown');
    return withParam(pending.redirectTo, 'code', code);
  } catch (error) {
    if (error instanceof OAuthFailure) return fail(error.message);
    // An AppError (provider unavailable or no longer configured): its message is written for people.
    if (isAppError(error)) return fail(error.message);
    deps.logger.error({ err: error, provider: pending.provider }, 'OAuth callback failed');
    return fail('Sign-in failed on our side. It has been logged; try again in a minute.');
  }
}

/** Finds or creates the account of a sign-in and issues its one-time code (2 minutes, stored hashed). */
async function signInCode(
  deps: ServiceDeps,
  provider: { name: string; label: string },
  profile: OAuthProfile,
): Promise<string> {
  // Two first sign-ins of one person at once: the loser of the race finds the winner's rows.
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.db.transaction(async (tx) => {
        const user = await accountFor(deps, tx, provider, profile);
        if (user.disabledAt) throw new OAuthFailure('This account is disabled. Contact your administrator.');
        return issueOneTimeToken(tx, user.id, 'oauth_sign_in');
      });
    } catch (error) {
      if (attempt === 0 && isUniqueViolation(error)) continue;
      throw error;
    }
  }
}

async function accountFor(
  deps: ServiceDeps,
  tx: DbOrTx,
  provider: { name: string; label: string },
  profile: OAuthProfile,
): Promise<UserRow> {
  const [identity] = await tx
    .select()
    .from(userIdentities)
    .where(and(eq(userIdentities.provider, provider.name), eq(userIdentities.subject, profile.subject)))
    .for('update');
  if (identity) {
    await touch(tx, identity.id, profile);
    const [user] = await tx.select().from(users).where(eq(users.id, identity.userId));
    return user!;
  }
  if (!profile.email) {
    throw new OAuthFailure(
      `${provider.label} did not share an email address, which an account needs. Allow access to your email at ${provider.label} and start again.`,
    );
  }
  const [existing] = await tx.select().from(users).where(eq(users.email, profile.email)).for('update');
  if (existing) {
    // Linking by email only when both sides proved the address: else whoever registers the
    // address, unverified, at some provider would take over the account.
    if (!profile.emailVerified || !existing.emailVerifiedAt) {
      throw new OAuthFailure(
        `An account with ${profile.email} already exists. Sign in with your password, then link ${provider.label} from your account page.`,
      );
    }
    await insertIdentity(tx, existing.id, provider.name, profile);
    deps.logger.info({ userId: existing.id, provider: provider.name }, 'identity linked by verified email');
    return existing;
  }
  const [user] = await tx
    .insert(users)
    .values({
      email: profile.email,
      name: profile.name,
      passwordHash: null,
      emailVerifiedAt: profile.emailVerified ? new Date() : null,
    })
    .returning();
  await createSoloOrganization(tx, user!);
  await insertIdentity(tx, user!.id, provider.name, profile);
  if (!profile.emailVerified) {
    const token = await issueOneTimeToken(tx, user!.id, 'verify_email');
    await queueEmail(tx, {
      to: user!.email,
      template: 'verify_email',
      payload: {
        name: user!.name,
        url: `${deps.config.webClientUrl}/confirm-email?token=${encodeURIComponent(token)}`,
      },
    });
  }
  return user!;
}

/** Links the provider to a signed-in user (the account page's "link"): their session proved the account. */
async function linkIdentity(
  deps: ServiceDeps,
  userId: string,
  provider: { name: string; label: string },
  profile: OAuthProfile,
) {
  await deps.db.transaction(async (tx) => {
    const [user] = await tx.select().from(users).where(eq(users.id, userId)).for('update');
    if (!user || user.disabledAt)
      throw new OAuthFailure('This account is disabled. Contact your administrator.');
    const [identity] = await tx
      .select()
      .from(userIdentities)
      .where(and(eq(userIdentities.provider, provider.name), eq(userIdentities.subject, profile.subject)))
      .for('update');
    if (identity && identity.userId !== userId) {
      throw new OAuthFailure(
        `This ${provider.label} account is already linked to another account. Sign in with it and unlink it there first.`,
      );
    }
    if (identity) await touch(tx, identity.id, profile);
    else await insertIdentity(tx, userId, provider.name, profile);
  });
  deps.logger.info({ userId, provider: provider.name }, 'identity linked from the account page');
}

const insertIdentity = (tx: DbOrTx, userId: string, provider: string, profile: OAuthProfile) =>
  tx.insert(userIdentities).values({
    userId,
    provider,
    subject: profile.subject,
    email: profile.email,
    emailVerified: profile.emailVerified,
  });

const touch = (tx: DbOrTx, identityId: string, profile: OAuthProfile) =>
  tx
    .update(userIdentities)
    .set({ lastUsedAt: new Date(), email: profile.email, emailVerified: profile.emailVerified })
    .where(eq(userIdentities.id, identityId));

/** auth.oauthExchange: the callback's one-time code for the same answer as auth.login. */
export async function exchangeCode(deps: ServiceDeps, code: string, client: ClientInfo) {
  const userId = await deps.db.transaction((tx) => consumeOneTimeToken(tx, code, 'oauth_sign_in'));
  const user = await deps.db.query.users.findFirst({ where: eq(users.id, userId) });
  if (!user) throw unauthorized('This account no longer exists.');
  return signIn(deps, user, client);
}
