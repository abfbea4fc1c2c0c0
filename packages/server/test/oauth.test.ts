// OAuth / OpenID Connect sign-in over HTTP, as a browser and a front end do it: the real server's
// /oauth/{provider}/start and /callback routes against a real OpenID provider (oidc-provider on a
// free port), then the REST exchange, identities and unlink. The rules themselves are tested in
// packages/api/test/oauth.test.ts.
import { startOidcProvider, type TestOidcProvider, testBrowser } from '@woopdi/api/testing-oidc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  freePort,
  leaksOf,
  PASSWORD,
  startTestServer,
  type TestServer,
  uniqueEmail,
} from './helpers.js';
import { undocumentedAnswers } from './openapi-conformance.js';

const CLIENT = { client_id: 'woopdi-http', client_secret: 'woopdi-http-secret-0123456789' };
const APP = 'http://app.test/oauth/done';

let op: TestOidcProvider;
let server: TestServer;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  op = await startOidcProvider([{ ...CLIENT, redirect_uris: [`${base}/oauth/acme/callback`] }]);
  server = await startTestServer(
    {
      API_HOST: base,
      OIDC_ACME_ISSUER: op.issuer,
      OIDC_ACME_CLIENT_ID: CLIENT.client_id,
      OIDC_ACME_CLIENT_SECRET: CLIENT.client_secret,
      RATE_LIMIT_LOGIN_ADDRESS: '10000/60',
    },
    { port },
  );
});
afterAll(async () => {
  await server?.close();
  await op?.close();
});

let n = 0;
const account = () => ({
  sub: `http-${Date.now().toString(36)}-${++n}`,
  email: uniqueEmail('oauth-http'),
  email_verified: true,
  name: 'Grace Hopper',
});

/** A sign-in in one browser: start → provider → callback → the web app's page (not requested). */
async function signIn(who = account()) {
  op.signInAs(who);
  const browser = testBrowser();
  const landed = await browser.follow(
    `${base}/oauth/acme/start?redirectTo=${encodeURIComponent(APP)}`,
    (u) => u.host === 'app.test',
  );
  return { landed, browser, who };
}

describe('OAuth sign-in through the HTTP routes', () => {
  it('lists the configured provider without a token', async () => {
    const res = await call(`${base}/api/auth/oauth/providers`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      providers: [{ name: 'acme', label: 'Acme', kind: 'oidc', startUrl: `${base}/oauth/acme/start` }],
    });
  });

  it('start → provider → callback → web app with a one-time code → exchange for tokens; no token in any URL', async () => {
    const start = await fetch(`${base}/oauth/acme/start?redirectTo=${encodeURIComponent(APP)}`, {
      redirect: 'manual',
    });
    expect(start.status).toBe(302);
    const location = new URL(start.headers.get('location')!);
    expect(location.origin).toBe(op.issuer);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('nonce')).toBeTruthy();
    expect(location.searchParams.get('redirect_uri')).toBe(`${base}/oauth/acme/callback`);
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith('woopdi_oauth_state='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/oauth/);

    const { landed, who } = await signIn();
    expect(landed.origin + landed.pathname).toBe(APP);
    expect([...landed.searchParams.keys()]).toEqual(['code']);
    expect(landed.href).not.toMatch(/eyJ|accessToken|refreshToken/);

    const exchanged = await call<{
      user: { email: string; emailVerified: boolean };
      tokens: { accessToken: string };
    }>(`${base}/api/auth/oauth/exchange`, { body: { code: landed.searchParams.get('code') } });
    expect(exchanged.status).toBe(200);
    expect(exchanged.body.user).toMatchObject({ email: who.email, emailVerified: true });
    const me = await call<{ email: string }>(`${base}/api/user/me`, {
      token: exchanged.body.tokens.accessToken,
    });
    expect(me.body.email).toBe(who.email);
    const orgs = await call<{ memberships: { isSolo: boolean }[] }>(
      `${base}/api/user/memberships?includeSolo=true`,
      {
        token: exchanged.body.tokens.accessToken,
      },
    );
    expect(orgs.body.memberships.map((m) => m.isSolo)).toEqual([true]);

    const again = await call(`${base}/api/auth/oauth/exchange`, {
      body: { code: landed.searchParams.get('code') },
    });
    expect(again.status).toBe(404);
    expect(again.body.message).toContain('already used');
  });

  it('a callback finished in another browser (no state cookie) goes back with an error, never a code', async () => {
    op.signInAs(account());
    const started = testBrowser();
    const callback = await started.follow(
      `${base}/oauth/acme/start?redirectTo=${encodeURIComponent(APP)}`,
      (u) => u.pathname === '/oauth/acme/callback',
    );
    const elsewhere = await fetch(callback, { redirect: 'manual' });
    expect(elsewhere.status).toBe(302);
    const target = new URL(elsewhere.headers.get('location')!);
    expect(target.searchParams.get('code')).toBeNull();
    expect(target.searchParams.get('error')).toContain('started in another browser');
    expect(leaksOf(target.searchParams.get('error')!)).toEqual([]);
  });

  it('refuses a redirectTo outside the web app (400), an unknown provider (404) and GET linking (403) with a message', async () => {
    const outside = await call(
      `${base}/oauth/acme/start?redirectTo=${encodeURIComponent('https://evil.example/')}`,
    );
    expect(outside.status).toBe(400);
    expect(outside.body.message).toContain('redirectTo is not an address of this web app');
    const missing = await call(`${base}/oauth/acme/start`);
    expect(missing.status).toBe(400);
    const unknown = await call(`${base}/oauth/nope/start?redirectTo=${encodeURIComponent(APP)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('acme');
    const link = await call(`${base}/oauth/acme/start?redirectTo=${encodeURIComponent(APP)}&link=1`);
    expect(link.status).toBe(403);
    expect(link.body.message).toContain('POST /oauth/{provider}/start');
    const anonymous = await call(`${base}/oauth/acme/start`, { body: { redirectTo: APP } });
    expect(anonymous.status).toBe(401);
    for (const res of [outside, missing, unknown, link, anonymous]) expect(leaksOf(res.text)).toEqual([]);
  });

  it('links a provider from the account page (POST with the Bearer token), lists it, and unlinks it', async () => {
    const email = uniqueEmail('linker-http');
    const signup = await call<{ tokens: { accessToken: string } }>(`${base}/api/auth/signup`, {
      body: { email, password: PASSWORD },
    });
    const token = signup.body.tokens.accessToken;
    const started = await call<{ url: string }>(`${base}/oauth/acme/start`, {
      token,
      body: { redirectTo: APP },
    });
    expect(started.status).toBe(200);
    op.signInAs(account());
    const landed = await testBrowser().follow(started.body.url, (u) => u.host === 'app.test');
    expect(landed.searchParams.get('linked')).toBe('acme');
    const listed = await call<{ hasPassword: boolean; identities: { id: string; provider: string }[] }>(
      `${base}/api/user/identities`,
      { token },
    );
    expect(listed.body).toMatchObject({ hasPassword: true, identities: [{ provider: 'acme' }] });
    const removed = await call(`${base}/api/user/identities/${listed.body.identities[0]!.id}`, {
      method: 'DELETE',
      token,
    });
    expect(removed.status).toBe(200);
    expect(
      (await call<{ identities: unknown[] }>(`${base}/api/user/identities`, { token })).body.identities,
    ).toEqual([]);
  });

  it('the last way to sign in cannot be unlinked (409 with what to do)', async () => {
    const { landed } = await signIn();
    const exchanged = await call<{ tokens: { accessToken: string } }>(`${base}/api/auth/oauth/exchange`, {
      body: { code: landed.searchParams.get('code') },
    });
    const token = exchanged.body.tokens.accessToken;
    const listed = await call<{ identities: { id: string }[] }>(`${base}/api/user/identities`, { token });
    const refused = await call(`${base}/api/user/identities/${listed.body.identities[0]!.id}`, {
      method: 'DELETE',
      token,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('only way to sign in');
    const unknown = await call(`${base}/api/user/identities/00000000-0000-4000-8000-000000000000`, {
      method: 'DELETE',
      token,
    });
    expect(unknown.status).toBe(404);
  });

  it('every answer of these REST calls is one the OpenAPI document declares', async () => {
    const { problems, seen } = await undocumentedAnswers(server.url);
    expect([...seen.keys()].some((id) => /oauth/i.test(id))).toBe(true);
    expect([...seen.keys()].some((id) => /identit/i.test(id))).toBe(true);
    expect(problems).toEqual([]);
  });
});
