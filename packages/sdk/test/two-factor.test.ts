// client.login with two-factor on: it answers the challenge and keeps no tokens; verifyTwoFactor
// (a code from the app, or a recovery code) finishes the sign-in and keeps them. Codes are computed
// here from the enrolled secret, as an authenticator app would.
import { TRPCClientError } from '@trpc/client';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../src/index.js';
import { closeClients, harness, PASSWORD, startServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await closeClients();
  await server?.close();
});

const codeAt = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSteps * 30_000,
  });

describe('client.login with two-factor', () => {
  it('answers the challenge, then verifyTwoFactor keeps the tokens; a recovery code works once', async () => {
    const email = uniqueEmail('sdk2fa');
    const setup = harness(server);
    await setup.client.signup({ email, password: PASSWORD });
    const { secret } = await setup.client.api.auth.twoFactor.enroll.mutate();
    const { recoveryCodes } = await setup.client.api.auth.twoFactor.confirm.mutate({ code: codeAt(secret) });
    expect((await setup.client.api.users.me.query()).twoFactorEnabled).toBe(true);

    const { client, tokenChanges } = harness(server);
    const first = await client.login(email, PASSWORD);
    if (!first.twoFactorRequired) throw new Error('expected the two-factor step');
    expect(client.getTokens()).toBeNull();
    expect(tokenChanges).toEqual([]);

    const wrong = await client.verifyTwoFactor(first.challengeToken, codeAt(secret)).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(TRPCClientError);
    expect((wrong as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    expect(client.getTokens()).toBeNull();

    const signedIn = await client.verifyTwoFactor(first.challengeToken, codeAt(secret, 1));
    expect(client.getTokens()).toEqual(signedIn.tokens);
    expect(tokenChanges).toEqual([signedIn.tokens]);
    expect((await client.api.users.me.query()).email).toBe(email);

    const other = harness(server);
    const second = await other.client.login(email, PASSWORD);
    if (!second.twoFactorRequired) throw new Error('expected the two-factor step');
    const recovered = await other.client.verifyTwoFactor(second.challengeToken, {
      recoveryCode: recoveryCodes[0]!,
    });
    expect(recovered.user.email).toBe(email);
    const third = await other.client.login(email, PASSWORD);
    if (!third.twoFactorRequired) throw new Error('expected the two-factor step');
    await expect(
      other.client.verifyTwoFactor(third.challengeToken, { recoveryCode: recoveryCodes[0]! }),
    ).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });
});
