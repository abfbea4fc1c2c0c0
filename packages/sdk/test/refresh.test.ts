// Transparent refresh against a server whose access tokens live one second.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  atSecondStart,
  closeClients,
  harness,
  PASSWORD,
  record,
  signedIn,
  sleep,
  startServer,
  type TestServer,
  type UserEvent,
  uniqueEmail,
  untilLive,
  within,
} from './helpers.js';

let server: TestServer;
let email: string;
beforeAll(async () => {
  server = await startServer({ ACCESS_TOKEN_TTL_SECONDS: '1' });
  email = uniqueEmail('refresh');
  const { client } = harness(server);
  await client.signup({ email, password: PASSWORD });
});
afterEach(() => closeClients());
afterAll(() => server?.close());

it('refreshes an expired access token once, before the calls that need it', async () => {
  const { client, tokenChanges, refreshes } = harness(server);
  await atSecondStart();
  const { user, tokens } = signedIn(await client.login(email, PASSWORD));
  await sleep(1500);

  const results = await Promise.all(Array.from({ length: 5 }, () => client.api.users.me.query()));
  expect(results.map((me) => me.id)).toEqual(Array(5).fill(user.id));
  expect(refreshes()).toBe(1);
  expect(tokenChanges).toHaveLength(2);
  const refreshed = tokenChanges[1]!;
  expect(refreshed.accessToken).not.toBe(tokens.accessToken);
  expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);
  expect(client.getTokens()).toEqual(refreshed);
});

it('refreshes once when the server refuses the token, and retries every refused call', async () => {
  const { client, tokenChanges, refreshes } = harness(server);
  await atSecondStart();
  const { user, tokens } = signedIn(await client.login(email, PASSWORD));
  await sleep(1500);
  // The client believes the token is still good (as with a clock behind the server's): the server's
  // UNAUTHORIZED is what triggers the refresh.
  const believed = { ...tokens, accessTokenExpiresAt: new Date(Date.now() + 3_600_000).toISOString() };
  client.setTokens(believed);

  const results = await Promise.all([
    client.api.users.me.query(),
    client.api.users.me.query(),
    client.api.users.memberships.query({ includeSolo: true }),
    client.api.system.settings.query(),
    client.api.users.me.query(),
  ]);
  expect(results[0]).toMatchObject({ id: user.id });
  expect(results[2]).toMatchObject({ memberships: [expect.objectContaining({ isSolo: true })] });
  expect(results[3]).toMatchObject({ name: 'Woopdi' });
  expect(refreshes()).toBe(1);
  expect(tokenChanges.map((t) => t?.accessToken)).toEqual([
    tokens.accessToken,
    tokens.accessToken,
    expect.not.stringContaining(tokens.accessToken),
  ]);
});

it('does not refresh for, nor retry, a failed login', async () => {
  const { client, refreshes, requests } = harness(server);
  await expect(client.login(email, 'not the password')).rejects.toMatchObject({
    data: { code: 'UNAUTHORIZED' },
  });
  expect(requests).toHaveLength(1);
  expect(refreshes()).toBe(0);
});

it('opens a fresh websocket for a subscription started after the token was refreshed', async () => {
  const { client, refreshes } = harness(server);
  await atSecondStart();
  await client.login(email, PASSWORD);
  const first = record<UserEvent>((handlers) => client.api.users.events.subscribe(undefined, handlers));
  await untilLive(server, email, first);
  await sleep(1500);

  // The first socket authenticated with a token that has expired since; the new subscription must not
  // reuse it.
  const second = record<UserEvent>((handlers) => client.api.users.events.subscribe(undefined, handlers));
  await untilLive(server, email, second);
  expect(second.errors).toEqual([]);
  expect(refreshes()).toBe(1);

  // Both streams stay live across the refresh and both end with this sign-in.
  await client.logout();
  await within(first.completed, 'the first stream to end');
  await within(second.completed, 'the second stream to end');
  expect(first.errors).toEqual([]);
  expect(first.events.at(-1)).toMatchObject({ type: 'session.revoked' });
  expect(second.events.at(-1)).toMatchObject({ type: 'session.revoked' });
});
