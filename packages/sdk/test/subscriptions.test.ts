// Live events through the SDK against the real server: websocket and SSE, real Redis bus.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AppRouter, TRPCClientError } from '../src/index.js';
import {
  closeClients,
  harness,
  PASSWORD,
  record,
  signedIn,
  startServer,
  type TestServer,
  type UserEvent,
  uniqueEmail,
  untilLive,
  within,
} from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => closeClients());
afterAll(() => server?.close());

describe.each(['ws', 'sse'] as const)('users.events over %s', (transport) => {
  it('delivers membership.added, then session.revoked, and completes when the sign-in is revoked', async () => {
    const email = uniqueEmail(transport);
    const first = harness(server, { subscriptions: transport });
    const { user } = await first.client.signup({ email, password: PASSWORD, name: 'Sub Scriber' });
    expect(first.client.getTokens()?.accessToken).toEqual(expect.any(String));

    const stream = record<UserEvent>((handlers) =>
      first.client.api.users.events.subscribe(undefined, handlers),
    );
    await untilLive(server, email, stream);

    const org = await first.client.api.organizations.create.mutate({ name: `Live ${transport}` });
    expect(org.ownerUserId).toBe(user.id);
    await expect(
      stream.next((e) => e.type === 'membership.added' && e.organizationId === org.id),
    ).resolves.toMatchObject({ type: 'membership.added', organizationId: org.id, role: 'ADMIN' });

    // A second sign-in of the same user signs out everywhere: the first stream hears it and ends.
    const second = harness(server);
    await second.client.login(email, PASSWORD);
    await second.client.logout({ everywhere: true });
    expect(second.client.getTokens()).toBeNull();
    expect(second.tokenChanges.at(-1)).toBeNull();

    await within(stream.completed, 'the stream to complete');
    expect(stream.errors).toEqual([]);
    expect(stream.events.at(-1)).toMatchObject({ type: 'session.revoked', familyId: null });
  });

  it('close() ends the open subscriptions and refuses new ones', async () => {
    const { client } = harness(server, { subscriptions: transport });
    await client.signup({ email: uniqueEmail('close'), password: PASSWORD });
    const stream = record<UserEvent>((handlers) => client.api.users.events.subscribe(undefined, handlers));
    await within(stream.started, 'the subscription to start');
    await client.close();
    await within(stream.completed, 'the subscription to end');
    expect(stream.errors).toEqual([]);

    const late = record<UserEvent>((handlers) => client.api.users.events.subscribe(undefined, handlers));
    await within(late.completed, 'the late subscription to be refused');
    expect(String(late.errors[0])).toMatch(/closed/);
    // Queries and mutations still work: they do not hold connections.
    expect((await client.api.system.settings.query()).name).toBe('Woopdi');
  });

  it('refuses an anonymous subscription with UNAUTHORIZED', async () => {
    const anonymous = harness(server, { subscriptions: transport });
    const stream = record<UserEvent>((handlers) =>
      anonymous.client.api.users.events.subscribe(undefined, handlers),
    );
    await within(stream.completed, 'the subscription to fail');
    expect(stream.events).toEqual([]);
    expect(stream.errors).toHaveLength(1);
    const [error] = stream.errors;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    expect(anonymous.refreshes()).toBe(0);
  });
});

describe('sign-in state', () => {
  it('fails with UNAUTHORIZED and forgets the tokens once another client signed out everywhere', async () => {
    const email = uniqueEmail('revoked');
    const first = harness(server);
    await first.client.signup({ email, password: PASSWORD });
    expect((await first.client.api.users.me.query()).email).toBe(email);

    const second = harness(server);
    await second.client.login(email, PASSWORD);
    await second.client.logout({ everywhere: true });

    // The access token is still a valid JWT, but its session is revoked: the SDK tries the refresh
    // token once, the server refuses it, and the tokens are cleared.
    const error = await first.client.api.users.me.query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    expect(first.refreshes()).toBe(1);
    expect(first.client.getTokens()).toBeNull();
    expect(first.tokenChanges.at(-1)).toBeNull();

    // Signed out now: the next call fails at once, with no refresh attempt.
    await expect(first.client.api.users.me.query()).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });
    expect(first.refreshes()).toBe(1);
  });

  it('login keeps the tokens, logout revokes them on the server and forgets them', async () => {
    const email = uniqueEmail('login');
    const signup = harness(server);
    await signup.client.signup({ email, password: PASSWORD });

    const { client, tokenChanges } = harness(server);
    await expect(client.login(email, 'wrong password!')).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });
    expect(client.getTokens()).toBeNull();

    const { user, tokens } = signedIn(await client.login(email, PASSWORD));
    expect(user.email).toBe(email);
    expect(client.getTokens()).toEqual(tokens);
    expect(tokenChanges).toEqual([tokens]);
    expect((await client.api.users.me.query()).id).toBe(user.id);

    await client.logout();
    expect(client.getTokens()).toBeNull();
    expect(tokenChanges).toEqual([tokens, null]);

    // The old tokens no longer work anywhere.
    const stale = harness(server, { tokens });
    await expect(stale.client.api.users.me.query()).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    expect(stale.client.getTokens()).toBeNull();
  });

  it('batches queries into one HTTP request and types the results', async () => {
    const { client, requests } = harness(server);
    await client.signup({ email: uniqueEmail('batch'), password: PASSWORD });
    const before = requests.length;
    const [me, memberships, settings] = await Promise.all([
      client.api.users.me.query(),
      client.api.users.memberships.query({ includeSolo: true }),
      client.api.system.settings.query(),
    ]);
    expect(requests.length - before).toBe(1);
    expect(memberships.memberships.map((m) => m.isSolo)).toEqual([true]);
    expect(me.lastActiveOrganizationId ?? memberships.memberships[0]!.organizationId).toEqual(
      expect.any(String),
    );
    expect(settings.name).toBe('Woopdi');
  });
});
