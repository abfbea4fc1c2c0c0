// OAuth / OpenID Connect sign-in (issue #18) against a real OpenID provider (oidc-provider, on a
// free port in this process) and a local server answering like GitHub. The browser is fetch with a
// cookie jar; the callback is the service the express route calls (the server's oauth.test.ts
// drives the same flow over HTTP).
import { loadConfig, sha256 } from '@woopdi/core';
import { memberships, oauthStates, organizations, userIdentities, users } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import * as oidc from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { finishAuthorization, startAuthorization } from '../src/services/oauth.js';
import { callerFor, createTestDeps, TEST_ENV, type TestDeps } from '../src/testing.js';
import {
  startOidcProvider,
  type TestAccount,
  type TestOidcProvider,
  testBrowser,
} from '../src/testing-oidc.js';
import { type FakeGitHub, startFakeGitHub } from './fake-github.js';
import { codeOf, signedIn, signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';

const API = 'http://api.test';
const APP = 'http://app.test/oauth/done';
const WOOPDI = { client_id: 'woopdi', client_secret: 'woopdi-client-secret-0123456789' };
const OTHER = { client_id: 'other-app', client_secret: 'other-client-secret-0123456789' };
const GITHUB = { id: 'gh-client', secret: 'gh-secret-0123456789' };

let op: TestOidcProvider;
let github: FakeGitHub;
let deps: TestDeps;
/** The same providers under a sign-in limit of 2 a minute per address. */
let limited: TestDeps;

beforeAll(async () => {
  op = await startOidcProvider([
    { ...WOOPDI, redirect_uris: [`${API}/oauth/acme/callback`] },
    { ...OTHER, redirect_uris: ['http://other.test/cb'] },
  ]);
  github = await startFakeGitHub(GITHUB);
  deps = await createTestDeps({
    API_HOST: API,
    OIDC_ACME_ISSUER: op.issuer,
    OIDC_ACME_CLIENT_ID: WOOPDI.client_id,
    OIDC_ACME_CLIENT_SECRET: WOOPDI.client_secret,
    GITHUB_CLIENT_ID: GITHUB.id,
    GITHUB_CLIENT_SECRET: GITHUB.secret,
    GITHUB_OAUTH_BASE_URL: github.url,
    GITHUB_API_BASE_URL: github.url,
    // Every start here comes from one address; the limit has its own test below.
    RATE_LIMIT_LOGIN_ADDRESS: '10000/60',
  });
  // Made early: its Redis connection is up by the time its test runs (a command sent before the
  // connection is ready goes to the in-memory insurance limiter instead, splitting the count).
  limited = await createTestDeps({
    API_HOST: API,
    OIDC_ACME_ISSUER: op.issuer,
    OIDC_ACME_CLIENT_ID: WOOPDI.client_id,
    OIDC_ACME_CLIENT_SECRET: WOOPDI.client_secret,
    RATE_LIMIT_LOGIN_ADDRESS: '2/60',
  });
});
afterAll(async () => {
  await deps?.close();
  await limited?.close();
  await op?.close();
  await github?.close();
});

let subjects = 0;
const person = (over: Partial<TestAccount> = {}): TestAccount & { email: string } => ({
  sub: `sub-${Date.now().toString(36)}-${++subjects}`,
  email: uniqueEmail('oauth'),
  email_verified: true,
  name: 'Ada Lovelace',
  ...over,
});

/** Starts a sign-in (or a link), lets the provider sign `account` in, and stops at the callback. */
async function authorize(provider: 'acme' | 'github', options: { linkUserId?: string } = {}) {
  const started = await startAuthorization(deps, provider, {
    redirectTo: APP,
    requestOrigin: 'http://ignored.test',
    ...options,
  });
  const callback = await testBrowser().follow(started.url, (u) => u.host === 'api.test');
  expect(callback.pathname).toBe(`/oauth/${provider}/callback`);
  return { state: started.state, callback };
}

/** The callback's answer: where the browser is sent, as its query parameters. */
async function finish(provider: string, callback: URL, browserState: string | undefined) {
  const target = new URL(
    await finishAuthorization(deps, provider, { query: callback.searchParams, browserState }),
  );
  // redirectTo, or the web app's address when the state is unknown (so redirectTo is too).
  expect([APP, 'http://app.test/']).toContain(target.origin + target.pathname);
  return {
    code: target.searchParams.get('code'),
    error: target.searchParams.get('error'),
    linked: target.searchParams.get('linked'),
  };
}

async function signInWith(account: TestAccount, provider: 'acme' = 'acme') {
  op.signInAs(account);
  const { state, callback } = await authorize(provider);
  return finish(provider, callback, state);
}

const usersWithEmail = (email: string) => deps.db.select().from(users).where(eq(users.email, email));

/** Captures the reasons the service logs for refused callbacks (the person sees one sentence). */
function warnings() {
  const spy = vi.spyOn(deps.logger, 'warn');
  return {
    reasons: () => spy.mock.calls.map((c) => JSON.stringify(c[0])),
    restore: () => spy.mockRestore(),
  };
}

describe('OpenID Connect sign-in', () => {
  it('a first sign-in creates the user (email verified as the provider says) and their solo organization; a second finds them', async () => {
    const ada = person();
    const first = await signInWith(ada);
    expect(first.error).toBeNull();
    const result = signedIn(await callerFor(deps).auth.oauthExchange({ code: first.code! }));
    expect(result.user).toMatchObject({ email: ada.email, name: 'Ada Lovelace', emailVerified: true });
    expect(result.tokens.tokenType).toBe('Bearer');
    const me = await callerFor(deps, result.tokens.accessToken).users.me();
    expect(me.id).toBe(result.user.id);
    const solo = await deps.db
      .select()
      .from(organizations)
      .innerJoin(memberships, eq(memberships.organizationId, organizations.id))
      .where(eq(memberships.userId, result.user.id));
    expect(solo.map((r) => [r.organizations.isSolo, r.memberships.role])).toEqual([[true, 'ADMIN']]);
    const [identity] = await deps.db
      .select()
      .from(userIdentities)
      .where(eq(userIdentities.userId, result.user.id));
    expect(identity).toMatchObject({
      provider: 'acme',
      subject: ada.sub,
      email: ada.email,
      emailVerified: true,
    });

    const second = await signInWith(ada);
    const again = signedIn(await callerFor(deps).auth.oauthExchange({ code: second.code! }));
    expect(again.user.id).toBe(result.user.id);
    expect(await usersWithEmail(ada.email)).toHaveLength(1);
    const [touched] = await deps.db.select().from(userIdentities).where(eq(userIdentities.id, identity!.id));
    expect(touched!.lastUsedAt.getTime()).toBeGreaterThan(identity!.lastUsedAt.getTime());
  });

  it('with two-factor on, the exchange answers the challenge, and auth.twoFactor.verify finishes it', async () => {
    const grace = person();
    const first = signedIn(
      await callerFor(deps).auth.oauthExchange({ code: (await signInWith(grace)).code! }),
    );
    const api = callerFor(deps, first.tokens.accessToken);
    const { secret } = await api.auth.twoFactor.enroll();
    const codeAt = (offsetSteps: number) =>
      new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
        timestamp: Date.now() + offsetSteps * 30_000,
      });
    await api.auth.twoFactor.confirm({ code: codeAt(0) });

    const again = await callerFor(deps).auth.oauthExchange({ code: (await signInWith(grace)).code! });
    expect(again).toMatchObject({ twoFactorRequired: true, challengeToken: expect.any(String) });
    expect(again).not.toHaveProperty('tokens');
    if (!again.twoFactorRequired) return;
    // The next step's code: the one confirm used is refused as a replay.
    const done = await callerFor(deps).auth.twoFactor.verify({
      challengeToken: again.challengeToken,
      code: codeAt(1),
    });
    expect(done.user.id).toBe(first.user.id);
    expect((await callerFor(deps, done.tokens.accessToken).users.me()).id).toBe(first.user.id);
  });

  it('a provider that says the email is unverified gives an unverified account, sent the verification email', async () => {
    const bob = person({ email_verified: false });
    const { code } = await signInWith(bob);
    const { user } = signedIn(await callerFor(deps).auth.oauthExchange({ code: code! }));
    expect(user.emailVerified).toBe(false);
    expect(await tokenFromOutbox(deps, bob.email, 'verify_email')).toBeTruthy();
  });

  it('the one-time code works once; the callback cannot be replayed', async () => {
    const ada = person();
    op.signInAs(ada);
    const { state, callback } = await authorize('acme');
    const { code } = await finish('acme', callback, state);
    await callerFor(deps).auth.oauthExchange({ code: code! });
    const reused = await callerFor(deps)
      .auth.oauthExchange({ code: code! })
      .catch((e: { code: string; message: string }) => e);
    expect(reused).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('already used') });
    const replay = await finish('acme', callback, state);
    expect(replay.code).toBeNull();
    expect(replay.error).toContain('expired or was already used');
  });

  it('a callback whose state this browser did not start, or that nobody started, is refused', async () => {
    const ada = person();
    op.signInAs(ada);
    const { callback } = await authorize('acme');
    // A stranger's finished sign-in planted on another browser (which holds a state of its own).
    const planted = await finish('acme', callback, 'a-state-of-this-browser');
    expect(planted.code).toBeNull();
    expect(planted.error).toContain('started in another browser');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'nobody-started-this-state');
    expect((await finish('acme', forged, 'nobody-started-this-state')).error).toContain(
      'expired or was already used',
    );
    expect(await usersWithEmail(ada.email)).toHaveLength(0);
  });

  it('an ID token with another nonce is refused', async () => {
    const ada = person();
    op.signInAs(ada);
    const started = await startAuthorization(deps, 'acme', { redirectTo: APP, requestOrigin: API });
    const callback = await testBrowser().follow(started.url, (u) => u.host === 'api.test');
    // The pending authorization expects another nonce than the one the provider put in the ID token.
    await deps.db
      .update(oauthStates)
      .set({ nonce: 'not-the-nonce-that-was-sent' })
      .where(eq(oauthStates.stateHash, sha256(started.state)));
    const log = warnings();
    const result = await finish('acme', callback, started.state);
    const reasons = log.reasons().join();
    log.restore();
    expect(result.code).toBeNull();
    expect(result.error).toContain('could not be completed');
    expect(reasons).toMatch(/"claim":"nonce"/);
    expect(await usersWithEmail(ada.email)).toHaveLength(0);
  });

  it('an ID token issued to another client (audience) is refused', async () => {
    const ada = person();
    const started = await startAuthorization(deps, 'acme', { redirectTo: APP, requestOrigin: API });
    const [pending] = await deps.db
      .select()
      .from(oauthStates)
      .where(eq(oauthStates.stateHash, sha256(started.state)));
    // A genuine ID token from the same provider, for the same person and nonce, but for OTHER's client.
    const other = await oidc.discovery(new URL(op.issuer), OTHER.client_id, OTHER.client_secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const otherUrl = oidc.buildAuthorizationUrl(other, {
      redirect_uri: 'http://other.test/cb',
      scope: 'openid email',
      state: 'other-state',
      nonce: pending!.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    op.signInAs(ada);
    const otherCallback = await testBrowser().follow(otherUrl.href, (u) => u.host === 'other.test');
    const foreign = await oidc.authorizationCodeGrant(other, otherCallback, {
      pkceCodeVerifier: verifier,
      expectedState: 'other-state',
      expectedNonce: pending!.nonce,
    });
    expect(foreign.claims()!.aud).toBe(OTHER.client_id);

    const callback = await testBrowser().follow(started.url, (u) => u.host === 'api.test');
    // Woopdi's token response from the provider, with OTHER's ID token in place of its own.
    deps.oauthFetch = async (url, init) => {
      const res = await fetch(url, init);
      if (!url.endsWith('/token')) return res;
      const body = (await res.json()) as Record<string, unknown>;
      return Response.json({ ...body, id_token: foreign.id_token }, { status: res.status });
    };
    const log = warnings();
    try {
      const result = await finish('acme', callback, started.state);
      expect(result.code).toBeNull();
      expect(result.error).toContain('could not be completed');
      expect(log.reasons().join()).toMatch(/"claim":"aud"/);
    } finally {
      log.restore();
      delete deps.oauthFetch;
    }
    expect(await usersWithEmail(ada.email)).toHaveLength(0);
  });

  it('a provider account claiming, unverified, the email of an existing account does not take it over', async () => {
    const victim = await signUp(deps, uniqueEmail('victim'));
    await callerFor(deps).auth.verifyEmail({
      token: await tokenFromOutbox(deps, victim.email, 'verify_email'),
    });
    const attacker = person({ email: victim.email, email_verified: false });
    const result = await signInWith(attacker);
    expect(result.code).toBeNull();
    expect(result.error).toContain(`An account with ${victim.email} already exists`);
    expect(result.error).toContain('link');
    expect(
      await deps.db.select().from(userIdentities).where(eq(userIdentities.userId, victim.user.id)),
    ).toEqual([]);
  });

  it('a verified provider email does not link to an account whose own email is unverified', async () => {
    const unverified = await signUp(deps, uniqueEmail('unverified'));
    const result = await signInWith(person({ email: unverified.email, email_verified: true }));
    expect(result.error).toContain('Sign in with your password');
    expect(
      await deps.db.select().from(userIdentities).where(eq(userIdentities.userId, unverified.user.id)),
    ).toEqual([]);
  });

  it('a verified provider email links to the verified account of that email and signs in to it', async () => {
    const owner = await signUp(deps, uniqueEmail('owner'));
    await callerFor(deps).auth.verifyEmail({
      token: await tokenFromOutbox(deps, owner.email, 'verify_email'),
    });
    const { code } = await signInWith(person({ email: owner.email, email_verified: true }));
    const { user } = signedIn(await callerFor(deps).auth.oauthExchange({ code: code! }));
    expect(user.id).toBe(owner.user.id);
    const { identities, hasPassword } = await owner.api.users.identities();
    expect(hasPassword).toBe(true);
    expect(identities.map((i) => i.provider)).toEqual(['acme']);
  });

  it('a signed-in user links a provider account (any email) from the account page; another user cannot take the same one', async () => {
    const owner = await signUp(deps, uniqueEmail('linker'));
    const theirs = person({ email: uniqueEmail('elsewhere'), email_verified: false });
    op.signInAs(theirs);
    const { state, callback } = await authorize('acme', { linkUserId: owner.user.id });
    // The link is bound to the user who started it, not to a browser cookie.
    const linked = await finish('acme', callback, undefined);
    expect(linked).toMatchObject({ linked: 'acme', code: null, error: null });
    expect(state).toBeTruthy();
    const { identities } = await owner.api.users.identities();
    expect(identities).toMatchObject([{ provider: 'acme', email: theirs.email, emailVerified: false }]);
    // Signing in with it now reaches the linked account.
    const { code } = await signInWith(theirs);
    expect(signedIn(await callerFor(deps).auth.oauthExchange({ code: code! })).user.id).toBe(owner.user.id);

    const intruder = await signUp(deps, uniqueEmail('intruder'));
    op.signInAs(theirs);
    const second = await authorize('acme', { linkUserId: intruder.user.id });
    expect((await finish('acme', second.callback, undefined)).error).toContain(
      'already linked to another account',
    );
    expect((await intruder.api.users.identities()).identities).toEqual([]);
  });

  it('the last way to sign in cannot be unlinked; with another one it can; nobody else’s identity is reachable', async () => {
    const { code } = await signInWith(person());
    const { tokens, user } = signedIn(await callerFor(deps).auth.oauthExchange({ code: code! }));
    const api = callerFor(deps, tokens.accessToken);
    const { identities, hasPassword } = await api.users.identities();
    expect(hasPassword).toBe(false);
    const only = await api.users.unlinkIdentity({ identityId: identities[0]!.id }).catch((e) => e);
    expect(only).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('only way to sign in') });

    const stranger = await signUp(deps, uniqueEmail('stranger'));
    expect(await codeOf(stranger.api.users.unlinkIdentity({ identityId: identities[0]!.id }))).toBe(
      'NOT_FOUND',
    );

    // A second provider (GitHub, linked from the account page) makes the first removable.
    github.signInAs({
      id: 424242 + subjects,
      login: 'ada',
      name: null,
      emails: [{ email: uniqueEmail('gh'), primary: true, verified: true }],
    });
    const link = await authorize('github', { linkUserId: user.id });
    expect((await finish('github', link.callback, undefined)).linked).toBe('github');
    expect(await api.users.unlinkIdentity({ identityId: identities[0]!.id })).toEqual({ unlinked: true });
    const left = await api.users.identities();
    expect(left.identities.map((i) => i.provider)).toEqual(['github']);
    expect(await codeOf(api.users.unlinkIdentity({ identityId: left.identities[0]!.id }))).toBe('CONFLICT');
  });

  it('a passwordless account: password login answers the wrong-password 401; changing the password asks to reset it', async () => {
    const ada = person();
    const { code } = await signInWith(ada);
    const { tokens } = signedIn(await callerFor(deps).auth.oauthExchange({ code: code! }));
    const wrong = await callerFor(deps)
      .auth.login({ email: ada.email, password: 'anything at all' })
      .catch((e) => e);
    const unknown = await callerFor(deps)
      .auth.login({ email: uniqueEmail('nobody'), password: 'anything at all' })
      .catch((e) => e);
    expect([wrong.code, wrong.message]).toEqual([unknown.code, unknown.message]);
    expect(wrong.code).toBe('UNAUTHORIZED');
    const change = await callerFor(deps, tokens.accessToken)
      .users.updateMe({ currentPassword: 'x', newPassword: 'a new password here' })
      .catch((e) => e);
    expect(change).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('request-password-reset'),
    });
    // The reset link sets one; then password login works.
    await callerFor(deps).auth.requestPasswordReset({ email: ada.email });
    await callerFor(deps).auth.resetPassword({
      token: await tokenFromOutbox(deps, ada.email, 'reset_password'),
      newPassword: 'a new password here',
    });
    expect(
      signedIn(await callerFor(deps).auth.login({ email: ada.email, password: 'a new password here' })).user
        .email,
    ).toBe(ada.email);
  });

  it('a disabled account is refused at the callback and at the exchange', async () => {
    const ada = person();
    const first = await signInWith(ada);
    const [row] = await usersWithEmail(ada.email);
    await deps.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, row!.id));
    expect(await codeOf(callerFor(deps).auth.oauthExchange({ code: first.code! }))).toBe('UNAUTHORIZED');
    const again = await signInWith(ada);
    expect(again.code).toBeNull();
    expect(again.error).toContain('disabled');
  });

  it('an invitation is accepted after signing in with a provider as the invited email', async () => {
    const owner = await signUp(deps, uniqueEmail('teamowner'));
    const team = await owner.api.organizations.create({ name: 'OAuth Team' });
    const invitee = person();
    await owner.api.invitations.create({ organizationId: team.id, email: invitee.email, role: 'MEMBER' });
    const token = await tokenFromOutbox(deps, invitee.email, 'invitation');
    const { code } = await signInWith(invitee);
    const { tokens, user } = signedIn(await callerFor(deps).auth.oauthExchange({ code: code! }));
    const accepted = await callerFor(deps, tokens.accessToken).invitations.accept({ token });
    expect(accepted).toMatchObject({ organizationId: team.id, role: 'MEMBER', user: { id: user.id } });
    const rows = await deps.db.select().from(memberships).where(eq(memberships.organizationId, team.id));
    expect(rows.map((r) => r.userId)).toContain(user.id);
  });
});

describe('GitHub sign-in (a local server answering like GitHub)', () => {
  const ghUser = (over: Partial<{ id: number; verified: boolean; email: string }> = {}) => ({
    id: over.id ?? 9_000_000 + ++subjects,
    login: `octo${subjects}`,
    name: 'Octo Cat',
    emails: [
      { email: uniqueEmail('secondary'), primary: false, verified: true },
      { email: over.email ?? uniqueEmail('octo'), primary: true, verified: over.verified ?? true },
    ],
  });

  it('a first sign-in creates the user with the verified primary email (PKCE sent); a second finds them', async () => {
    const octo = ghUser();
    github.signInAs(octo);
    const first = await authorize('github');
    const { code } = await finish('github', first.callback, first.state);
    const { user } = signedIn(await callerFor(deps).auth.oauthExchange({ code: code! }));
    expect(user).toMatchObject({ email: octo.emails[1]!.email, name: 'Octo Cat', emailVerified: true });
    expect(github.tokenRequests.at(-1)!.get('code_verifier')).toMatch(/^[\w-]{43,}$/);
    const [identity] = await deps.db.select().from(userIdentities).where(eq(userIdentities.userId, user.id));
    expect(identity).toMatchObject({ provider: 'github', subject: String(octo.id) });

    github.signInAs(octo);
    const second = await authorize('github');
    const again = await finish('github', second.callback, second.state);
    expect(signedIn(await callerFor(deps).auth.oauthExchange({ code: again.code! })).user.id).toBe(user.id);
  });

  it('an unverified GitHub email does not take over an existing account', async () => {
    const victim = await signUp(deps, uniqueEmail('ghvictim'));
    await callerFor(deps).auth.verifyEmail({
      token: await tokenFromOutbox(deps, victim.email, 'verify_email'),
    });
    github.signInAs(ghUser({ email: victim.email, verified: false }));
    const flow = await authorize('github');
    const result = await finish('github', flow.callback, flow.state);
    expect(result.error).toContain('already exists');
    expect(
      await deps.db.select().from(userIdentities).where(eq(userIdentities.userId, victim.user.id)),
    ).toEqual([]);
  });

  it('a code GitHub refuses (reused at the token endpoint) ends in an error, not a sign-in', async () => {
    github.signInAs(ghUser());
    const flow = await authorize('github');
    // Spend the code first, as an attacker who intercepted it would.
    await fetch(`${github.url}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        client_id: GITHUB.id,
        client_secret: GITHUB.secret,
        code: flow.callback.searchParams.get('code')!,
      }),
    });
    const result = await finish('github', flow.callback, flow.state);
    expect(result.code).toBeNull();
    expect(result.error).toContain('could not be completed');
  });
});

describe('providers, redirects and configuration', () => {
  it('auth.oauthProviders lists what is configured, with where to start', async () => {
    const { providers } = await callerFor(deps).auth.oauthProviders();
    expect(providers).toEqual([
      { name: 'github', label: 'GitHub', kind: 'github', startUrl: `${API}/oauth/github/start` },
      { name: 'acme', label: 'Acme', kind: 'oidc', startUrl: `${API}/oauth/acme/start` },
    ]);
  });

  it('redirectTo must be a page of the web app; an unknown provider is 404', async () => {
    for (const redirectTo of [
      undefined,
      'https://evil.example/steal',
      'http://app.test.evil.example/',
      'javascript:alert(1)',
    ]) {
      const error = await startAuthorization(deps, 'acme', { redirectTo, requestOrigin: API }).catch(
        (e) => e,
      );
      expect(error, String(redirectTo)).toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringContaining('redirectTo'),
      });
    }
    const unknown = await startAuthorization(deps, 'nope', { redirectTo: APP, requestOrigin: API }).catch(
      (e) => e,
    );
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('acme') });
  });

  it('starts count as sign-in attempts of the address (RATE_LIMIT_LOGIN_ADDRESS); a completed sign-in gives its back', async () => {
    const start = (ip: string) =>
      startAuthorization(limited, 'acme', { redirectTo: APP, requestOrigin: API, ip });
    const first = await start('198.51.100.7');
    op.signInAs(person());
    const callback = await testBrowser().follow(first.url, (u) => u.host === 'api.test');
    const done = new URL(
      await finishAuthorization(limited, 'acme', {
        query: callback.searchParams,
        browserState: first.state,
        ip: '198.51.100.7',
      }),
    );
    expect(done.searchParams.get('code')).toBeTruthy();
    await start('198.51.100.7');
    await start('198.51.100.7');
    const refused = await start('198.51.100.7').catch((e) => e);
    expect(refused).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    // Another address is not held back, nor is linking (a signed-in user's own act).
    await start('198.51.100.8');
    const owner = await signUp(limited, uniqueEmail('limited'));
    await startAuthorization(limited, 'acme', {
      redirectTo: APP,
      requestOrigin: API,
      ip: '198.51.100.7',
      linkUserId: owner.user.id,
    });
  });

  it('the environment: names from OIDC_<NAME>_*, half a provider refused with IS_PROD and left out otherwise', () => {
    const base = { ...TEST_ENV, ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') };
    const dev = loadConfig({
      ...base,
      OIDC_MY_CORP_ISSUER: 'https://id.corp.example',
      OIDC_MY_CORP_CLIENT_ID: 'x',
      OIDC_MY_CORP_CLIENT_SECRET: 'y',
      GOOGLE_CLIENT_ID: 'only-the-id',
    });
    expect(dev.oauth.providers.map((p) => [p.name, p.issuer])).toEqual([
      ['my-corp', 'https://id.corp.example'],
    ]);
    const prod = {
      ...base,
      IS_PROD: 'true',
      JWT_SECRET: 'a-very-long-random-production-key-0123456789',
      ENCRYPTION_KEY: `k1:${Buffer.from('0123456789abcdefghijklmnopqrstuv').toString('base64')}`,
      API_HOST: 'https://api.example.com',
    };
    expect(() => loadConfig({ ...prod, GOOGLE_CLIENT_ID: 'only-the-id' })).toThrow(
      /GOOGLE_CLIENT_SECRET is required when GOOGLE_CLIENT_ID is set/,
    );
    expect(() =>
      loadConfig({
        ...prod,
        OIDC_ACME_ISSUER: 'http://id.acme.example',
        OIDC_ACME_CLIENT_ID: 'x',
        OIDC_ACME_CLIENT_SECRET: 'y',
      }),
    ).toThrow(/OIDC_ACME_ISSUER must be an https URL/);
    expect(() =>
      loadConfig({ ...prod, API_HOST: '', GOOGLE_CLIENT_ID: 'x', GOOGLE_CLIENT_SECRET: 'y' }),
    ).toThrow(/API_HOST is required/);
    expect(
      loadConfig({ ...prod, GOOGLE_CLIENT_ID: 'x', GOOGLE_CLIENT_SECRET: 'y' }).oauth.providers[0],
    ).toMatchObject({
      name: 'google',
      issuer: 'https://accounts.google.com',
    });
  });
});
