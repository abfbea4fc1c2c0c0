// TOTP two-factor end to end through the router, with codes computed here from the enrolled
// secret (otpauth, as an authenticator app would), against the real database and Redis.
import { sha256 } from '@woopdi/core';
import {
  emailOutbox,
  memberships,
  sessions,
  twoFactorChallenges,
  twoFactorRecoveryCodes,
  userTwoFactor,
} from '@woopdi/db';
import { and, eq, isNull } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { addMember, codeOf, insertApiKey, PASSWORD, signedIn, signUp } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps({ RATE_LIMIT_TWO_FACTOR: '6/300' });
});
afterAll(() => deps.close());

const anon = () => callerFor(deps);
type Api = ReturnType<typeof callerFor>;

/** What the user's authenticator app shows `offsetSteps` periods from now. */
const codeAt = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetSteps * 30_000,
  });

/** A code no step of the ±1 window would accept. */
const wrongCode = (secret: string) => {
  const valid = new Set([-1, 0, 1].map((d) => codeAt(secret, d)));
  return ['000000', '111111', '222222', '333333'].find((c) => !valid.has(c))!;
};

async function turnOn(api: Api) {
  const { secret } = await api.auth.twoFactor.enroll();
  // The code confirm spends is answered, not recomputed later: the 30-second step may have rolled over.
  const confirmCode = codeAt(secret);
  const { recoveryCodes } = await api.auth.twoFactor.confirm({ code: confirmCode });
  return { secret, recoveryCodes, confirmCode };
}

async function challengeFor(email: string) {
  const result = await anon().auth.login({ email, password: PASSWORD });
  if (!result.twoFactorRequired) throw new Error('expected a two-factor challenge');
  return result.challengeToken;
}

const emailsOf = async (to: string, template: string) =>
  (await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, to))).filter(
    (m) => m.template === template,
  );

describe('enrolling and turning two-factor on', () => {
  it('answers a secret, its otpauth URI and an SVG QR code, and stores the secret sealed', async () => {
    const person = await signUp(deps);
    const enrolled = await person.api.auth.twoFactor.enroll();
    expect(enrolled.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrolled.otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(enrolled.secret);
    expect(uri.searchParams.get('issuer')).toBe('Woopdi');
    expect(decodeURIComponent(uri.pathname)).toContain(person.email);
    expect(enrolled.qrCodeSvgDataUrl).toMatch(/^data:image\/svg\+xml;base64,/);
    const svg = Buffer.from(enrolled.qrCodeSvgDataUrl.split(',')[1]!, 'base64').toString();
    expect(svg).toContain('<svg');

    const [row] = await deps.db.select().from(userTwoFactor).where(eq(userTwoFactor.userId, person.user.id));
    expect(row!.enabledAt).toBeNull();
    expect(row!.sealedSecret).toMatch(/^v1\./);
    expect(row!.sealedSecret).not.toContain(enrolled.secret);
    // Not on until confirmed: signing in still answers tokens.
    signedIn(await anon().auth.login({ email: person.email, password: PASSWORD }));
    expect((await person.api.users.me()).twoFactorEnabled).toBe(false);
  });

  it('confirm turns it on with 10 single-view recovery codes stored hashed, signs out the other sessions and emails', async () => {
    const person = await signUp(deps);
    const other = signedIn(await anon().auth.login({ email: person.email, password: PASSWORD }));
    const { secret } = await person.api.auth.twoFactor.enroll();

    expect(await codeOf(person.api.auth.twoFactor.confirm({ code: wrongCode(secret) }))).toBe('BAD_REQUEST');
    const confirmed = await person.api.auth.twoFactor.confirm({ code: codeAt(secret) });
    expect(confirmed.recoveryCodes).toHaveLength(10);
    expect(new Set(confirmed.recoveryCodes).size).toBe(10);
    const stored = await deps.db
      .select()
      .from(twoFactorRecoveryCodes)
      .where(eq(twoFactorRecoveryCodes.userId, person.user.id));
    expect(stored).toHaveLength(10);
    expect(stored.map((r) => r.codeHash)).not.toContain(confirmed.recoveryCodes[0]);

    expect((await person.api.users.me()).twoFactorEnabled).toBe(true);
    expect(await codeOf(callerFor(deps, other.tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    const mail = await emailsOf(person.email, 'security_changed');
    expect(mail.map((m) => m.payload.change)).toEqual(['two_factor_enabled']);

    expect(await codeOf(person.api.auth.twoFactor.confirm({ code: codeAt(secret, 1) }))).toBe('CONFLICT');
    expect(await codeOf(person.api.auth.twoFactor.enroll())).toBe('CONFLICT');
  });

  it('confirm without an enrollment says to enroll first', async () => {
    const person = await signUp(deps);
    const err = await person.api.auth.twoFactor.confirm({ code: '123456' }).catch((e) => e);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/POST \/api\/auth\/2fa\/enroll/);
  });
});

describe('signing in with two-factor on', () => {
  it('needs the second step; refuses a wrong code, a replayed code, a used and an expired challenge; a recovery code works once; disable', async () => {
    const person = await signUp(deps);
    const { secret, recoveryCodes, confirmCode } = await turnOn(person.api);

    const sessionsBefore = await deps.db.select().from(sessions).where(eq(sessions.userId, person.user.id));
    const login = await anon().auth.login({ email: person.email, password: PASSWORD });
    expect(login).toMatchObject({ twoFactorRequired: true });
    expect(login).not.toHaveProperty('tokens');
    const sessionsAfter = await deps.db.select().from(sessions).where(eq(sessions.userId, person.user.id));
    expect(sessionsAfter).toHaveLength(sessionsBefore.length);
    const challengeToken = (login as { challengeToken: string }).challengeToken;

    const wrong = await anon()
      .auth.twoFactor.verify({ challengeToken, code: wrongCode(secret) })
      .catch((e) => e);
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(wrong.message).toMatch(/code is not right/);
    // The code confirm used is spent: the same time step is refused.
    expect(await codeOf(anon().auth.twoFactor.verify({ challengeToken, code: confirmCode }))).toBe(
      'UNAUTHORIZED',
    );

    const next = codeAt(secret, 1);
    const verified = await anon().auth.twoFactor.verify({ challengeToken, code: next });
    expect(verified.user.id).toBe(person.user.id);
    expect((await callerFor(deps, verified.tokens.accessToken).users.me()).twoFactorEnabled).toBe(true);

    const used = await anon()
      .auth.twoFactor.verify({ challengeToken, code: codeAt(secret, -1) })
      .catch((e) => e);
    expect(used.code).toBe('UNAUTHORIZED');
    expect(used.message).toMatch(/sign in again/);
    // A replay of the code just accepted, on a fresh challenge.
    expect(
      await codeOf(
        anon().auth.twoFactor.verify({ challengeToken: await challengeFor(person.email), code: next }),
      ),
    ).toBe('UNAUTHORIZED');

    const stale = await challengeFor(person.email);
    await deps.db
      .update(twoFactorChallenges)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(twoFactorChallenges.tokenHash, sha256(stale)));
    const expired = await anon()
      .auth.twoFactor.verify({ challengeToken: stale, recoveryCode: recoveryCodes[0]! })
      .catch((e) => e);
    expect(expired.code).toBe('UNAUTHORIZED');
    expect(expired.message).toMatch(/expired/);

    // Recovery codes: typed back in upper case, once.
    const recovered = await anon().auth.twoFactor.verify({
      challengeToken: await challengeFor(person.email),
      recoveryCode: recoveryCodes[0]!.toUpperCase(),
    });
    expect(recovered.user.id).toBe(person.user.id);
    expect(
      await codeOf(
        anon().auth.twoFactor.verify({
          challengeToken: await challengeFor(person.email),
          recoveryCode: recoveryCodes[0]!,
        }),
      ),
    ).toBe('UNAUTHORIZED');
    const left = await deps.db
      .select()
      .from(twoFactorRecoveryCodes)
      .where(and(eq(twoFactorRecoveryCodes.userId, person.user.id), isNull(twoFactorRecoveryCodes.usedAt)));
    expect(left).toHaveLength(9);

    // Disable: a wrong password is refused; the right one turns it off and signs out the others.
    const api = callerFor(deps, recovered.tokens.accessToken);
    expect(await codeOf(api.auth.twoFactor.disable({ password: 'not the password' }))).toBe('BAD_REQUEST');
    expect(await codeOf(api.auth.twoFactor.disable({}))).toBe('BAD_REQUEST');
    await api.auth.twoFactor.disable({ password: PASSWORD });
    expect(await codeOf(callerFor(deps, verified.tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    expect((await api.users.me()).twoFactorEnabled).toBe(false);
    signedIn(await anon().auth.login({ email: person.email, password: PASSWORD }));
    const mail = await emailsOf(person.email, 'security_changed');
    expect(mail.map((m) => m.payload.change).sort()).toEqual(['two_factor_disabled', 'two_factor_enabled']);
    expect(
      await deps.db
        .select()
        .from(twoFactorRecoveryCodes)
        .where(eq(twoFactorRecoveryCodes.userId, person.user.id)),
    ).toHaveLength(0);
  });

  it('disable also takes a current code from the app', async () => {
    const person = await signUp(deps);
    const { secret } = await turnOn(person.api);
    expect(await codeOf(person.api.auth.twoFactor.disable({ code: codeAt(secret) }))).toBe('BAD_REQUEST');
    await person.api.auth.twoFactor.disable({ code: codeAt(secret, 1) });
    expect(await codeOf(person.api.auth.twoFactor.disable({ password: PASSWORD }))).toBe('CONFLICT');
  });

  it('limits wrong codes per account, across challenges, before the code is checked', async () => {
    const person = await signUp(deps);
    const { secret } = await turnOn(person.api);
    const challengeToken = await challengeFor(person.email);
    for (let i = 0; i < 6; i++) {
      expect(await codeOf(anon().auth.twoFactor.verify({ challengeToken, code: wrongCode(secret) }))).toBe(
        'UNAUTHORIZED',
      );
    }
    const limited = await anon()
      .auth.twoFactor.verify({ challengeToken: await challengeFor(person.email), code: codeAt(secret, 1) })
      .catch((e) => e);
    expect(limited.code).toBe('TOO_MANY_REQUESTS');
    expect(limited.message).toMatch(/two-factor codes/);
    // Another account is not affected.
    const other = await signUp(deps);
    const theirs = await turnOn(other.api);
    const ok = await anon().auth.twoFactor.verify({
      challengeToken: await challengeFor(other.email),
      code: codeAt(theirs.secret, 1),
    });
    expect(ok.user.id).toBe(other.user.id);
  });

  it('an unknown challenge is a 401 that says to sign in again', async () => {
    const err = await anon()
      .auth.twoFactor.verify({ challengeToken: 'x'.repeat(43), code: '123456' })
      .catch((e) => e);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/sign in again/);
  });
});

describe('an organization that requires two-factor', () => {
  it('only an ADMIN who has two-factor on may require it; an API key may not change it', async () => {
    const owner = await signUp(deps);
    const org = await owner.api.organizations.create({ name: 'Strict Co' });
    const refused = await owner.api.organizations
      .update({ organizationId: org.id, requireTwoFactor: true })
      .catch((e) => e);
    expect(refused.code).toBe('FORBIDDEN');
    expect(refused.message).toMatch(/lock you out/);

    const key = await insertApiKey(deps, org.id, owner.user.id, 'ADMIN');
    await turnOn(owner.api);
    expect(
      await codeOf(
        callerFor(deps, key.key).organizations.update({ organizationId: org.id, requireTwoFactor: true }),
      ),
    ).toBe('FORBIDDEN');
    const updated = await owner.api.organizations.update({ organizationId: org.id, requireTwoFactor: true });
    expect(updated.requireTwoFactor).toBe(true);
    expect(await codeOf(owner.api.organizations.update({ organizationId: org.id }))).toBe('BAD_REQUEST');
  });

  it('blocks members without two-factor there (with how to turn it on), not in their other organizations; keys are unaffected', async () => {
    const owner = await signUp(deps);
    const org = await owner.api.organizations.create({ name: 'Secure Co' });
    const elsewhere = await signUp(deps);
    const otherOrg = await elsewhere.api.organizations.create({ name: 'Relaxed Co' });
    const member = await addMember(deps, org.id, 'MODERATOR');
    await deps.db.insert(memberships).values({
      organizationId: otherOrg.id,
      userId: member.user.id,
      role: 'MEMBER',
    });
    await turnOn(owner.api);
    await owner.api.organizations.update({ organizationId: org.id, requireTwoFactor: true });

    const blocked = await member.api.organizations.get({ organizationId: org.id }).catch((e) => e);
    expect(blocked.code).toBe('FORBIDDEN');
    expect(blocked.message).toMatch(/requires two-factor/);
    expect(blocked.message).toMatch(/POST \/api\/auth\/2fa\/enroll/);
    expect(await codeOf(member.api.members.list({ organizationId: org.id }))).toBe('FORBIDDEN');
    expect((await member.api.organizations.get({ organizationId: otherOrg.id })).id).toBe(otherOrg.id);

    const key = await insertApiKey(deps, org.id, owner.user.id, 'MEMBER');
    expect((await callerFor(deps, key.key).organizations.get({ organizationId: org.id })).id).toBe(org.id);

    const listed = await owner.api.members.list({ organizationId: org.id });
    const flags = Object.fromEntries(listed.members.map((m) => [m.userId, m.twoFactorEnabled]));
    expect(flags).toEqual({ [owner.user.id]: true, [member.user.id]: false });

    const { secret } = await member.api.auth.twoFactor.enroll();
    await member.api.auth.twoFactor.confirm({ code: codeAt(secret) });
    expect((await member.api.organizations.get({ organizationId: org.id })).requireTwoFactor).toBe(true);
    expect((await member.api.members.list({ organizationId: org.id })).members).toHaveLength(2);

    // Turning the requirement off lets a member without two-factor back in.
    await member.api.auth.twoFactor.disable({ password: PASSWORD });
    expect(await codeOf(member.api.organizations.get({ organizationId: org.id }))).toBe('FORBIDDEN');
    await owner.api.organizations.update({ organizationId: org.id, requireTwoFactor: false });
    expect(await codeOf(member.api.organizations.get({ organizationId: org.id }))).toBe('OK');
  });
});
