// The relying-party side of each configured provider, through openid-client (discovery, PKCE, state,
// nonce and ID-token validation; no JWT or JWKS code here). GitHub is plain OAuth 2 with the same
// library, then its /user and /user/emails API.
import { AppError, type OAuthProviderConfig, serviceUnavailable } from '@woopdi/core';
import * as oidc from 'openid-client';
import type { ServiceDeps } from './deps.js';

/** Who the provider says signed in. */
export interface OAuthProfile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

export interface AuthorizationStart {
  url: string;
  state: string;
  codeVerifier: string;
  nonce: string;
}

/** A failure a person can act on; the callback turns it into `?error=<message>`. */
export class OAuthFailure extends Error {
  override name = 'OAuthFailure';
}

type Deps = Pick<ServiceDeps, 'config' | 'logger' | 'oauthFetch'>;

const GITHUB_SCOPE = 'read:user user:email';
const OIDC_SCOPE = 'openid email profile';
const TIMEOUT_SECONDS = 10;

export function findProvider(deps: Pick<ServiceDeps, 'config'>, name: string): OAuthProviderConfig {
  const provider = deps.config.oauth.providers.find((p) => p.name === name);
  if (!provider) {
    const names = deps.config.oauth.providers.map((p) => p.name);
    throw new AppError(
      'NOT_FOUND',
      names.length
        ? `No sign-in provider is called "${name.slice(0, 40)}". Configured: ${names.join(', ')} (GET /api/auth/oauth/providers).`
        : 'No sign-in provider is configured on this server (see the README: Sign-in with OAuth / OpenID Connect).',
    );
  }
  return provider;
}

// Discovery answers and their JWKS are kept per provider (and per fetch, which tests replace).
const configurations = new WeakMap<oidc.CustomFetch, Map<string, Promise<oidc.Configuration>>>();

function configurationFor(deps: Deps, provider: OAuthProviderConfig): Promise<oidc.Configuration> {
  const fetcher: oidc.CustomFetch = deps.oauthFetch ?? ((url, options) => fetch(url, options as RequestInit));
  const key = deps.oauthFetch ?? (fetch as unknown as oidc.CustomFetch);
  let cache = configurations.get(key);
  if (!cache) {
    cache = new Map();
    configurations.set(key, cache);
  }
  const id = `${provider.name}|${provider.issuer ?? ''}|${provider.clientId}`;
  let pending = cache.get(id);
  if (!pending) {
    pending = build(deps, provider, fetcher);
    cache.set(id, pending);
    // A provider that was down is asked again next time.
    pending.catch(() => cache.delete(id));
  }
  return pending;
}

async function build(deps: Deps, provider: OAuthProviderConfig, fetcher: oidc.CustomFetch) {
  // Plain http is for local providers in development and tests; config refuses it with IS_PROD.
  const insecure = !deps.config.isProd;
  if (provider.kind === 'github') {
    const base = deps.config.oauth.github.oauthBaseUrl;
    const configuration = new oidc.Configuration(
      {
        issuer: base,
        authorization_endpoint: `${base}/login/oauth/authorize`,
        token_endpoint: `${base}/login/oauth/access_token`,
      },
      provider.clientId,
      provider.clientSecret,
    );
    configuration[oidc.customFetch] = fetcher;
    configuration.timeout = TIMEOUT_SECONDS;
    if (insecure) oidc.allowInsecureRequests(configuration);
    return configuration;
  }
  const configuration = await oidc.discovery(
    new URL(provider.issuer!),
    provider.clientId,
    provider.clientSecret,
    undefined,
    {
      [oidc.customFetch]: fetcher,
      timeout: TIMEOUT_SECONDS,
      execute: insecure ? [oidc.allowInsecureRequests] : [],
    },
  );
  return configuration;
}

async function configurationOrFailure(deps: Deps, provider: OAuthProviderConfig) {
  try {
    return await configurationFor(deps, provider);
  } catch (error) {
    deps.logger.warn({ err: error, provider: provider.name }, 'OAuth provider discovery failed');
    throw serviceUnavailable(
      `${provider.label} sign-in is unavailable right now (its server did not answer). Try again in a minute.`,
      30,
    );
  }
}

/** The provider's authorization URL, with fresh state, PKCE verifier and (OIDC) nonce. */
export async function beginAuthorization(
  deps: Deps,
  provider: OAuthProviderConfig,
  redirectUri: string,
): Promise<AuthorizationStart> {
  const configuration = await configurationOrFailure(deps, provider);
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const params: Record<string, string> = {
    redirect_uri: redirectUri,
    scope: provider.kind === 'github' ? GITHUB_SCOPE : OIDC_SCOPE,
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  };
  if (provider.kind === 'oidc') params.nonce = nonce;
  return { url: oidc.buildAuthorizationUrl(configuration, params).href, state, codeVerifier, nonce };
}

/**
 * Exchanges the callback's code (checking state, PKCE and, for OIDC, the ID token's signature,
 * issuer, audience, expiry and nonce) and answers who signed in.
 */
export async function completeAuthorization(
  deps: Deps,
  provider: OAuthProviderConfig,
  callbackUrl: URL,
  pending: { state: string; codeVerifier: string; nonce: string },
): Promise<OAuthProfile> {
  const configuration = await configurationOrFailure(deps, provider);
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      ...(provider.kind === 'oidc' && { expectedNonce: pending.nonce, idTokenExpected: true }),
    });
  } catch (error) {
    // The detail (which check failed) is for the log; the person gets one clear sentence.
    // openid-client wraps the check that failed (oauth4webapi's error, naming the claim).
    const e = error as Error & { code?: string; cause?: { message?: string; cause?: { claim?: unknown } } };
    deps.logger.warn(
      {
        provider: provider.name,
        reason: e.message,
        code: e.code,
        detail: e.cause?.message,
        claim: e.cause?.cause?.claim,
      },
      'OAuth callback refused',
    );
    throw new OAuthFailure(
      `${provider.label} sign-in could not be completed (the answer from ${provider.label} was not valid for this sign-in). Start again.`,
    );
  }
  if (provider.kind === 'github') return githubProfile(deps, provider, tokens.access_token);
  let claims: Record<string, unknown> & { sub: string } = tokens.claims()!;
  // Providers that follow the spec to the letter put email and name in userinfo, not the ID token.
  if (typeof claims.email !== 'string') {
    try {
      claims = {
        ...(await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub)),
        sub: claims.sub,
      };
    } catch (error) {
      deps.logger.warn({ provider: provider.name, reason: (error as Error).message }, 'OIDC userinfo failed');
      throw new OAuthFailure(`${provider.label} did not share your profile. Start again.`);
    }
  }
  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : null;
  return {
    subject: claims.sub,
    email: email && email.length <= 254 ? email : null,
    emailVerified: claims.email_verified === true,
    name: typeof claims.name === 'string' ? claims.name.slice(0, 120) : null,
  };
}

async function githubProfile(deps: Deps, provider: OAuthProviderConfig, accessToken: string) {
  const api = deps.config.oauth.github.apiBaseUrl;
  const fetcher = deps.oauthFetch ?? ((url, options) => fetch(url, options as RequestInit));
  const get = async (path: string) => {
    const res = await fetcher(`${api}${path}`, {
      method: 'GET',
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${accessToken}`,
        'user-agent': 'woopdi',
        'x-github-api-version': '2022-11-28',
      },
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_SECONDS * 1000),
    } as never);
    if (!res.ok) {
      deps.logger.warn({ provider: provider.name, path, status: res.status }, 'GitHub API refused');
      throw new OAuthFailure(
        'GitHub did not share your profile. Start again, and allow access to your email.',
      );
    }
    return res.json() as Promise<unknown>;
  };
  const user = (await get('/user')) as { id?: unknown; name?: unknown; login?: unknown };
  if (typeof user.id !== 'number' && typeof user.id !== 'string')
    throw new OAuthFailure('GitHub answered without a user id. Start again.');
  const emails = (await get('/user/emails')) as Array<{
    email?: unknown;
    primary?: unknown;
    verified?: unknown;
  }>;
  const list = Array.isArray(emails) ? emails.filter((e) => typeof e?.email === 'string') : [];
  // The primary address; a verified one is preferred, as only a verified one may link an account.
  const chosen =
    list.find((e) => e.primary === true && e.verified === true) ??
    list.find((e) => e.primary === true) ??
    list.find((e) => e.verified === true);
  const email = chosen ? String(chosen.email).trim().toLowerCase() : null;
  const name = typeof user.name === 'string' ? user.name : typeof user.login === 'string' ? user.login : null;
  return {
    subject: String(user.id),
    email: email && email.length <= 254 ? email : null,
    emailVerified: chosen?.verified === true,
    name: name ? name.slice(0, 120) : null,
  };
}
