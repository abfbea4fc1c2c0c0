import { hashPassword, sha256 } from '@woopdi/core';
import { emailOutbox, memberships, oneTimeTokens, organizations, sessions, users } from '@woopdi/db';
import { queuedJobs } from '@woopdi/db/testing';
import { and, eq, sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, PASSWORD, signedIn, signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

const anon = () => callerFor(deps);

describe('signup', () => {
  it('creates the user with a lower-cased email, their solo org (owner + ADMIN), and a verification email', async () => {
    const email = uniqueEmail('Mixed.Case').replace('example', 'EXAMPLE');
    const { user, tokens } = await anon().auth.signup({ email, password: PASSWORD, name: 'Ann' });
    expect(user.email).toBe(email.toLowerCase());
    expect(user.emailVerified).toBe(false);
    expect(tokens.tokenType).toBe('Bearer');

    const orgs = await deps.db.select().from(organizations).where(eq(organizations.ownerUserId, user.id));
    expect(orgs).toHaveLength(1);
    expect(orgs[0]!.isSolo).toBe(true);
    const [m] = await deps.db.select().from(memberships).where(eq(memberships.organizationId, orgs[0]!.id));
    expect(m).toMatchObject({ userId: user.id, role: 'ADMIN' });

    const mail = await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, user.email));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.template).toBe('verify_email');
    expect(String(mail[0]!.payload.url)).toMatch(/^http:\/\/app\.test\/confirm-email\?token=/);
    const jobs = await queuedJobs(deps.sql, 'send_email');
    expect(jobs.map((j) => j.payload.outboxId)).toContain(mail[0]!.id);
  });

  it('refuses a second account for the same email in any letter case with 409', async () => {
    const email = uniqueEmail();
    await anon().auth.signup({ email, password: PASSWORD });
    expect(await codeOf(anon().auth.signup({ email: email.toUpperCase(), password: PASSWORD }))).toBe(
      'CONFLICT',
    );
    const rows = await deps.db.select().from(users).where(eq(users.email, email));
    expect(rows).toHaveLength(1);
  });

  it('rejects a malformed email and a short password with field-level messages', async () => {
    const err = await anon()
      .auth.signup({ email: 'not-an-email', password: 'short' })
      .catch((e) => e);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/email/);
    expect(err.message).toMatch(/password: Use at least 8 characters/);
  });

  it('rolls back entirely when a step fails: no user, no org, no email', async () => {
    const email = uniqueEmail();
    // A trigger makes the outbox insert fail, which comes after the user and org inserts.
    await deps.sql.unsafe(`create or replace function fail_outbox() returns trigger language plpgsql as $$
      begin if new."to" = '${email}' then raise exception 'boom'; end if; return new; end $$;
      create trigger fail_outbox before insert on email_outbox for each row execute function fail_outbox();`);
    try {
      expect(await codeOf(anon().auth.signup({ email, password: PASSWORD }))).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await deps.sql.unsafe('drop trigger fail_outbox on email_outbox; drop function fail_outbox();');
    }
    expect(await deps.db.select().from(users).where(eq(users.email, email))).toHaveLength(0);
    const orphans =
      await deps.sql`select count(*)::int as n from organizations o where not exists (select 1 from users u where u.id = o.owner_user_id)`;
    expect(orphans[0]!.n).toBe(0);
  });
});

describe('login', () => {
  it('signs in a user whose id Postgres accepts but RFC 4122 does not, and reads them back', async () => {
    // Rows made outside Woopdi (imports, other tools) can carry any 8-4-4-4-12 hex id: the output
    // schemas must accept what the database holds, or the session is created and the answer is 500.
    const odd = 'abcdef01-2345-0678-0abc-def012345678';
    const email = uniqueEmail('imported');
    await deps.sql`insert into users (id, email, password_hash) values (${odd}, ${email}, ${await hashPassword(PASSWORD)})`;
    const { tokens, user } = signedIn(await anon().auth.login({ email, password: PASSWORD }));
    expect(user.id).toBe(odd);
    const me = await callerFor(deps, tokens.accessToken).users.me();
    expect(me.id).toBe(odd);
  });

  it('gives the same 401 message for an unknown email and a wrong password', async () => {
    const { email } = await signUp(deps);
    const wrong = await anon()
      .auth.login({ email, password: 'not the password' })
      .catch((e) => e);
    const unknown = await anon()
      .auth.login({ email: uniqueEmail('nobody'), password: 'not the password' })
      .catch((e) => e);
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(unknown.code).toBe('UNAUTHORIZED');
    expect(wrong.message).toBe(unknown.message);
  });

  it('works before the email is verified, and users.me says so', async () => {
    const { email } = await signUp(deps);
    const { tokens } = signedIn(await anon().auth.login({ email, password: PASSWORD }));
    const me = await callerFor(deps, tokens.accessToken).users.me();
    expect(me).toMatchObject({ email, emailVerified: false, emailVerifiedAt: null });
  });

  it('refuses a disabled user', async () => {
    const { email, user } = await signUp(deps);
    await deps.db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, user.id));
    const err = await anon()
      .auth.login({ email, password: PASSWORD })
      .catch((e) => e);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/disabled/);
  });
});

describe('access tokens', () => {
  it('are refused when tampered with, signed with alg none, signed with another secret, or expired', async () => {
    const { tokens, user } = await signUp(deps);
    const [h, p, s] = tokens.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, role: 'superadmin' })).toString('base64url');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    const otherSecret = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('another-secret-another-secret-another'));
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(deps.config.jwt.secret));
    const wrongAudience = await new SignJWT({ ...claims, aud: 'someone-else' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(deps.config.jwt.secret));
    for (const bad of [`${h}.${forged}.${s}`, none, otherSecret, expired, wrongAudience, 'garbage']) {
      expect(await codeOf(callerFor(deps, bad).users.me())).toBe('UNAUTHORIZED');
    }
    // The genuine token still works, so the refusals above are about the token, not the user.
    expect((await callerFor(deps, tokens.accessToken).users.me()).id).toBe(user.id);
  });

  it('stop working when their session is revoked by logout', async () => {
    const { api, tokens } = await signUp(deps);
    await api.auth.logout({ everywhere: false });
    expect(await codeOf(callerFor(deps, tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(anon().auth.refresh({ refreshToken: tokens.refreshToken }))).toBe('UNAUTHORIZED');
  });

  it('logout everywhere ends every sign-in of the user, and only theirs', async () => {
    const { email, api } = await signUp(deps);
    const second = signedIn(await anon().auth.login({ email, password: PASSWORD }));
    const other = await signUp(deps);
    await api.auth.logout({ everywhere: true });
    expect(await codeOf(callerFor(deps, second.tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(other.api.users.me())).toBe('OK');
  });
});

describe('refresh tokens', () => {
  it('rotate on every use; the new access token works', async () => {
    const { tokens } = await signUp(deps);
    const next = await anon().auth.refresh({ refreshToken: tokens.refreshToken });
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    expect(await codeOf(callerFor(deps, next.accessToken).users.me())).toBe('OK');
    const again = await anon().auth.refresh({ refreshToken: next.refreshToken });
    expect(again.refreshToken).not.toBe(next.refreshToken);
  });

  it('presenting a rotated token revokes the whole family', async () => {
    const { tokens, user } = await signUp(deps);
    const next = await anon().auth.refresh({ refreshToken: tokens.refreshToken });
    const reuse = await anon()
      .auth.refresh({ refreshToken: tokens.refreshToken })
      .catch((e) => e);
    expect(reuse.code).toBe('UNAUTHORIZED');
    expect(reuse.message).toMatch(/already used/);
    // The thief's and the owner's newest tokens both stop working.
    expect(await codeOf(anon().auth.refresh({ refreshToken: next.refreshToken }))).toBe('UNAUTHORIZED');
    expect(await codeOf(callerFor(deps, next.accessToken).users.me())).toBe('UNAUTHORIZED');
    const live = await deps.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, user.id), sql`${sessions.revokedAt} is null`));
    expect(live).toHaveLength(0);
  });

  it('are stored only as hashes', async () => {
    const { tokens } = await signUp(deps);
    const rows = await deps.db
      .select()
      .from(sessions)
      .where(eq(sessions.refreshTokenHash, sha256(tokens.refreshToken)));
    expect(rows).toHaveLength(1);
    const plain = await deps.db
      .select()
      .from(sessions)
      .where(eq(sessions.refreshTokenHash, tokens.refreshToken));
    expect(plain).toHaveLength(0);
  });

  it('an unknown or expired refresh token is refused', async () => {
    expect(await codeOf(anon().auth.refresh({ refreshToken: 'x'.repeat(43) }))).toBe('UNAUTHORIZED');
    const { tokens } = await signUp(deps);
    await deps.db
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.refreshTokenHash, sha256(tokens.refreshToken)));
    expect(await codeOf(anon().auth.refresh({ refreshToken: tokens.refreshToken }))).toBe('UNAUTHORIZED');
  });
});

describe('email verification', () => {
  it('verifies with the emailed token once; a used or unknown token is 404', async () => {
    const { email, api } = await signUp(deps);
    const token = await tokenFromOutbox(deps, email, 'verify_email');
    const res = await anon().auth.verifyEmail({ token });
    expect(res.user.emailVerified).toBe(true);
    expect((await api.users.me()).emailVerified).toBe(true);
    expect(await codeOf(anon().auth.verifyEmail({ token }))).toBe('NOT_FOUND');
    expect(await codeOf(anon().auth.verifyEmail({ token: 'no-such-token-at-all' }))).toBe('NOT_FOUND');
  });

  it('an expired token answers 400 saying it expired and how to get a new one', async () => {
    const { email } = await signUp(deps);
    const token = await tokenFromOutbox(deps, email, 'verify_email');
    await deps.db
      .update(oneTimeTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(oneTimeTokens.tokenHash, sha256(token)));
    const err = await anon()
      .auth.verifyEmail({ token })
      .catch((e) => e);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/expired/);
    expect(err.message).toMatch(/resend-verification/);
  });

  it('resend answers the same for unknown emails and sends a fresh link that voids the old one', async () => {
    const { email } = await signUp(deps);
    const first = await tokenFromOutbox(deps, email, 'verify_email');
    const known = await anon().auth.resendVerification({ email });
    const unknown = await anon().auth.resendVerification({ email: uniqueEmail('ghost') });
    expect(known).toEqual(unknown);
    const second = await tokenFromOutbox(deps, email, 'verify_email');
    expect(second).not.toBe(first);
    expect(await codeOf(anon().auth.verifyEmail({ token: first }))).toBe('NOT_FOUND');
    expect(await codeOf(anon().auth.verifyEmail({ token: second }))).toBe('OK');
  });
});

describe('password reset', () => {
  it('answers the same whether or not the email exists, and emails only real accounts', async () => {
    const { email } = await signUp(deps);
    const ghost = uniqueEmail('ghost');
    expect(await anon().auth.requestPasswordReset({ email })).toEqual(
      await anon().auth.requestPasswordReset({ email: ghost }),
    );
    expect(await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, ghost))).toHaveLength(0);
    expect(await tokenFromOutbox(deps, email, 'reset_password')).toBeTruthy();
  });

  it('sets the new password, revokes every session, and mails a notice; the link works once', async () => {
    const { email, tokens } = await signUp(deps);
    await anon().auth.requestPasswordReset({ email });
    const token = await tokenFromOutbox(deps, email, 'reset_password');
    await anon().auth.resetPassword({ token, newPassword: 'a brand new password' });

    expect(await codeOf(callerFor(deps, tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(anon().auth.refresh({ refreshToken: tokens.refreshToken }))).toBe('UNAUTHORIZED');
    expect(await codeOf(anon().auth.login({ email, password: PASSWORD }))).toBe('UNAUTHORIZED');
    expect(await codeOf(anon().auth.login({ email, password: 'a brand new password' }))).toBe('OK');
    const notices = await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, email));
    expect(notices.map((n) => n.template)).toContain('password_changed');
    expect(await codeOf(anon().auth.resetPassword({ token, newPassword: 'yet another password' }))).toBe(
      'NOT_FOUND',
    );
  });

  it('an expired reset link is 400, an unknown one 404', async () => {
    const { email } = await signUp(deps);
    await anon().auth.requestPasswordReset({ email });
    const token = await tokenFromOutbox(deps, email, 'reset_password');
    await deps.db
      .update(oneTimeTokens)
      .set({ expiresAt: new Date(Date.now() - 1) })
      .where(eq(oneTimeTokens.tokenHash, sha256(token)));
    const err = await anon()
      .auth.resetPassword({ token, newPassword: 'whatever123' })
      .catch((e) => e);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/expired.*request-password-reset/);
    expect(
      await codeOf(anon().auth.resetPassword({ token: 'unknown-token-xyz', newPassword: 'whatever123' })),
    ).toBe('NOT_FOUND');
    expect(await codeOf(anon().auth.login({ email, password: PASSWORD }))).toBe('OK');
  });

  it('a new reset request voids the earlier link', async () => {
    const { email } = await signUp(deps);
    await anon().auth.requestPasswordReset({ email });
    const first = await tokenFromOutbox(deps, email, 'reset_password');
    await new Promise((r) => setTimeout(r, 5));
    await anon().auth.requestPasswordReset({ email });
    expect(await codeOf(anon().auth.resetPassword({ token: first, newPassword: 'whatever123' }))).toBe(
      'NOT_FOUND',
    );
  });
});

describe('users.updateMe', () => {
  it('changes the password only with the current one, and ends the other sign-ins but not this one', async () => {
    const { email, api, tokens } = await signUp(deps);
    const other = signedIn(await anon().auth.login({ email, password: PASSWORD }));
    expect(await codeOf(api.users.updateMe({ newPassword: 'new password 1' }))).toBe('BAD_REQUEST');
    expect(
      await codeOf(api.users.updateMe({ currentPassword: 'wrong', newPassword: 'new password 1' })),
    ).toBe('BAD_REQUEST');
    await api.users.updateMe({ currentPassword: PASSWORD, newPassword: 'new password 1', name: 'Renamed' });
    expect((await callerFor(deps, tokens.accessToken).users.me()).name).toBe('Renamed');
    expect(await codeOf(callerFor(deps, other.tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(anon().auth.login({ email, password: 'new password 1' }))).toBe('OK');
  });
});
