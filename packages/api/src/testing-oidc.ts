/// <reference path="./oidc-provider.d.ts" />
// A real OpenID provider (oidc-provider) on a free port, for the OAuth sign-in tests of this
// package and the server's. Its interaction page signs in whichever account the test chose and
// consents at once; a test drives the redirects with fetch and a cookie jar (testing-browser below).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface TestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface TestOidcProvider {
  issuer: string;
  provider: Provider;
  /** The account the next login at the provider signs in as. */
  signInAs(account: TestAccount): void;
  close(): Promise<void>;
}

export interface TestClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export async function startOidcProvider(clients: TestClient[]): Promise<TestOidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, TestAccount>();
  let next: TestAccount | undefined;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      ...c,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test' }] },
    cookies: { keys: ['woopdi-test-oidc-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: async (_ctx: unknown, sub: string) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ ...account }) };
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: { Session: 60, Interaction: 600, Grant: 600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  });
  // Quiet: the provider's default logging of failed requests is the tests' expected refusals.
  provider.on('server_error', () => {});
  const handle = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      if (!next) throw new Error('the test did not choose an account (signInAs)');
      accounts.set(next.sub, next);
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: next.sub } },
        {
          mergeWithLastSubmission: false,
        },
      );
      return;
    }
    const prompt = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = details.grantId
      ? (await provider.Grant.find(details.grantId))!
      : new provider.Grant({
          accountId: details.session!.accountId,
          clientId: String(details.params.client_id),
        });
    if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
    if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/interaction/')) {
      interaction(req, res).catch((error: Error) => {
        res.statusCode = 500;
        res.end(String(error.message));
      });
      return;
    }
    handle(req, res);
  });

  return {
    issuer,
    provider,
    signInAs(account) {
      next = account;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A browser without a page: follows redirects by hand, keeping cookies per host, and stops at the
 * first address `stop` accepts (the callback, or the web app) without requesting it.
 */
export function testBrowser() {
  const jar = new Map<string, Map<string, string>>();
  const store = (url: URL, res: Response) => {
    const cookies = jar.get(url.host) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...value] = pair!.trim().split('=');
      const expired = attributes.some(
        (a) => /^\s*max-age=0/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a),
      );
      if (expired) cookies.delete(name!);
      else cookies.set(name!, value.join('='));
    }
    jar.set(url.host, cookies);
  };
  const header = (url: URL) =>
    [...(jar.get(url.host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');

  return {
    jar,
    cookie: (host: string, name: string) => jar.get(host)?.get(name),
    setCookie: (host: string, name: string, value: string) => {
      const cookies = jar.get(host) ?? new Map<string, string>();
      cookies.set(name, value);
      jar.set(host, cookies);
    },
    /** Requests `start` and follows redirects until `stop(url)`; answers that URL. */
    async follow(
      start: string,
      stop: (url: URL) => boolean,
      init: { method?: string; headers?: Record<string, string>; body?: string } = {},
    ): Promise<URL> {
      let url = new URL(start);
      let request: { method?: string; headers?: Record<string, string>; body?: string } = init;
      for (let hops = 0; hops < 20; hops++) {
        if (hops > 0 && stop(url)) return url;
        const res = await fetch(url, {
          method: request.method ?? 'GET',
          headers: { ...request.headers, cookie: header(url) },
          body: request.body,
          redirect: 'manual',
        });
        store(url, res);
        const location = res.headers.get('location');
        if (res.status < 300 || res.status >= 400 || !location) {
          throw new Error(
            `${url.href} answered ${res.status} without a redirect: ${(await res.text()).slice(0, 300)}`,
          );
        }
        url = new URL(location, url);
        request = {};
      }
      throw new Error('too many redirects');
    },
  };
}
