// The sign-in's two-factor step in Chromium: an account with two-factor on (turned on over REST, the
// code computed from its secret as an authenticator app would) signs in with the password, then a
// code; a wrong code is shown, not signed in; a recovery code works too. Its form is accessible.
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, PASSWORD, type Stack, signUpInApp, startStack, uniqueEmail } from './stack.js';

const codeAt = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSteps * 30_000,
  });

async function post<T>(stack: Stack, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${stack.url}/api${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body ?? {}),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

describe('two-factor sign-in in the web app', () => {
  let stack: Stack;
  const email = uniqueEmail('twofactor');
  let secret = '';
  let recoveryCodes: string[] = [];
  // The code confirm spent. Kept rather than recomputed: a 30-second step may roll over before the
  // test replays it, and a recomputed code would then be a new, valid one.
  let spentCode = '';

  beforeAll(async () => {
    stack = await startStack();
    const { tokens } = await post<{ tokens: { accessToken: string } }>(stack, '/auth/signup', {
      email,
      password: PASSWORD,
    });
    ({ secret } = await post<{ secret: string }>(stack, '/auth/2fa/enroll', undefined, tokens.accessToken));
    spentCode = codeAt(secret);
    ({ recoveryCodes } = await post<{ recoveryCodes: string[] }>(
      stack,
      '/auth/2fa/confirm',
      { code: spentCode },
      tokens.accessToken,
    ));
  });
  afterAll(async () => {
    await stack?.close();
  });

  const toSecondStep = async () => {
    const page = await (await stack.context()).newPage();
    await page.goto('/sign-in');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Two-factor sign-in' }).waitFor();
    return page;
  };

  it('asks for a code after the password; a wrong one is refused, the right one signs in', async () => {
    const page = await toSecondStep();
    await expectAccessible(page, 'two-factor-sign-in');
    // The code confirm used is spent: refused as a replay.
    await page.getByLabel('Code from your authenticator app').fill(spentCode);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/code is not right/);
    await page.getByLabel('Code from your authenticator app').fill(codeAt(secret, 1));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/organizations\/[0-9a-f-]+\/tasks$/);
  });

  it('takes a recovery code instead', async () => {
    const page = await toSecondStep();
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/organizations\/[0-9a-f-]+\/tasks$/);
  });

  it('the account page turns it on: QR code and key, a code, the recovery codes once', async () => {
    const page = await (await stack.context()).newPage();
    await signUpInApp(page, uniqueEmail('enroller'), 'Eve Enroller');
    await page.goto('/account');
    await page.getByRole('button', { name: 'Set up two-factor' }).click();
    await page.getByRole('img', { name: 'QR code of your two-factor key' }).waitFor();
    const key = (await page.locator('p', { hasText: 'Key:' }).locator('code').textContent())!.trim();
    await expectAccessible(page, 'account-two-factor-enroll');
    await page.getByLabel('Code from the app').fill(codeAt(key));
    await page.getByRole('button', { name: 'Turn on two-factor' }).click();
    await page.getByRole('button', { name: 'I have saved them' }).waitFor();
    expect(await page.locator('.recovery-codes li').count()).toBe(10);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    await page.getByRole('button', { name: 'Turn off two-factor' }).waitFor();
  });
});
