// The SDK's side of an OAuth sign-in: the code the callback hands the front end becomes held
// tokens through client.oauthExchange, as after login (real server, real oidc-provider).
import { createServer } from 'node:net';
import { startOidcProvider, type TestOidcProvider, testBrowser } from '@woopdi/api/testing-oidc';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeClients, harness, signedIn, startServer, type TestServer, uniqueEmail } from './helpers.js';

const CLIENT = { client_id: 'woopdi-sdk', client_secret: 'woopdi-sdk-secret-0123456789' };
let op: TestOidcProvider;
let server: TestServer;
let base: string;

beforeAll(async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  base = `http://127.0.0.1:${port}`;
  op = await startOidcProvider([{ ...CLIENT, redirect_uris: [`${base}/oauth/acme/callback`] }]);
  server = await startServer(
    {
      API_HOST: base,
      OIDC_ACME_ISSUER: op.issuer,
      OIDC_ACME_CLIENT_ID: CLIENT.client_id,
      OIDC_ACME_CLIENT_SECRET: CLIENT.client_secret,
    },
    { port },
  );
});
afterAll(async () => {
  await closeClients();
  await server?.close();
  await op?.close();
});

it('oauthExchange keeps the tokens of the sign-in, like login', async () => {
  const email = uniqueEmail('sdk-oauth');
  op.signInAs({ sub: `sdk-${Date.now()}`, email, email_verified: true });
  const { client, tokenChanges } = harness(server);
  const { providers } = await client.api.auth.oauthProviders.query();
  const landed = await testBrowser().follow(
    `${providers[0]!.startUrl}?redirectTo=${encodeURIComponent('http://app.test/oauth/done')}`,
    (u) => u.host === 'app.test',
  );
  const result = signedIn(await client.oauthExchange(landed.searchParams.get('code')!));
  expect(result.user.email).toBe(email);
  expect(tokenChanges).toEqual([result.tokens]);
  expect(client.getTokens()).toEqual(result.tokens);
  expect((await client.api.users.me.query()).email).toBe(email);
  expect(client.activeOrganizationId()).toBe(result.user.lastActiveOrganizationId);
});
