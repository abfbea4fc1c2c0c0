// The invitation lifecycle through the real router: create → email → details → accept (new person or
// signed-in user), single use, expiry, revocation, token rotation, resend limits and the listing.
import { sha256 } from '@woopdi/core';
import { auditLog, emailOutbox, invitations, memberships, organizations } from '@woopdi/db';
import { queuedJobs } from '@woopdi/db/testing';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, PASSWORD, signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';

/** Seat limits of the plans are the billing tests' business: here they never get in the way. */
const NO_SEAT_LIMIT = { PLAN_FREE_SEATS: '10000' };
let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps(NO_SEAT_LIMIT);
});
afterAll(() => deps.close());

const anon = () => callerFor(deps);
const DAY = 24 * 3600_000;

/** A signed-up owner with a fresh team organization. */
async function team(name = 'Invite Co') {
  const owner = await signUp(deps, uniqueEmail('owner'));
  const org = await owner.api.organizations.create({ name });
  return { owner, org, organizationId: org.id };
}

/** Invites `email` and returns the invitation with the token read from the email's link. */
async function invite(
  t: Awaited<ReturnType<typeof team>>,
  email: string,
  role: 'ADMIN' | 'MODERATOR' | 'MEMBER' = 'MEMBER',
) {
  const invitation = await t.owner.api.invitations.create({ organizationId: t.organizationId, email, role });
  return { invitation, token: await tokenFromOutbox(deps, email, 'invitation') };
}

async function membershipRows(organizationId: string, userId: string) {
  return deps.db
    .select()
    .from(memberships)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 'OK', message: '' }),
    (e) => e as { code: string; message: string },
  );

describe('a new person', () => {
  it('gets an email with the accept link, sees the details, and accepts with a password', async () => {
    const t = await team('Newcomers Ltd');
    const email = uniqueEmail('newcomer');
    const { invitation, token } = await invite(t, email, 'MODERATOR');
    expect(invitation).toMatchObject({
      email,
      role: 'MODERATOR',
      status: 'pending',
      organizationId: t.organizationId,
    });
    expect(new Date(invitation.expiresAt).getTime()).toBeGreaterThan(Date.now() + 7 * DAY - 60_000);

    // The email: the accept link under WEB_CLIENT_URL, queued for the send_email job.
    const mail = await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, email));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.template).toBe('invitation');
    expect(String(mail[0]!.payload.url)).toBe(
      `http://app.test/accept-invitation?token=${encodeURIComponent(token)}`,
    );
    expect(mail[0]!.payload).toMatchObject({ organizationName: 'Newcomers Ltd', role: 'MODERATOR' });
    const jobs = await queuedJobs(deps.sql, 'send_email');
    expect(jobs.map((j) => j.payload.outboxId)).toContain(mail[0]!.id);
    // Only the hash of the token is stored.
    const [row] = await deps.db.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row!.tokenHash).toBe(sha256(token));
    expect(JSON.stringify(row)).not.toContain(token);

    const details = await anon().invitations.details({ token });
    expect(details).toMatchObject({
      organizationId: t.organizationId,
      organizationName: 'Newcomers Ltd',
      email,
      role: 'MODERATOR',
      accountExists: false,
    });
    expect(details.inviterName).toBeTruthy();

    // A new person must choose a password.
    expect(await codeOf(anon().invitations.accept({ token }))).toBe('BAD_REQUEST');

    const accepted = await anon().invitations.accept({ token, password: PASSWORD, name: 'New Person' });
    expect(accepted).toMatchObject({ organizationId: t.organizationId, role: 'MODERATOR' });
    expect(accepted.tokens).not.toBeNull();
    const api = callerFor(deps, accepted.tokens!.accessToken);
    const me = await api.users.me();
    expect(me).toMatchObject({ email, name: 'New Person', emailVerified: true });
    expect(me.id).toBe(accepted.user.id);

    // Their solo organization, and the membership with the invited role.
    const { memberships: mine } = await api.users.memberships({ includeSolo: true });
    expect(mine.map((m) => [m.isSolo, m.role, m.isOwner, m.organizationId === t.organizationId])).toEqual([
      [false, 'MODERATOR', false, true],
      [true, 'ADMIN', true, false],
    ]);
    const solos = await deps.db
      .select()
      .from(organizations)
      .where(and(eq(organizations.ownerUserId, me.id), eq(organizations.isSolo, true)));
    expect(solos).toHaveLength(1);
    // The refresh token works too, and the new member can do what a MODERATOR does.
    expect(await codeOf(anon().auth.refresh({ refreshToken: accepted.tokens!.refreshToken }))).toBe('OK');
    expect(await codeOf(api.members.list({ organizationId: t.organizationId }))).toBe('OK');
    // And the password they chose signs them in.
    expect(await codeOf(anon().auth.login({ email, password: PASSWORD }))).toBe('OK');

    const [after] = await deps.db.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(after).toMatchObject({ status: 'accepted', acceptedBy: me.id });
  });

  it('cannot create the account while signed in as someone else', async () => {
    const t = await team();
    const { token } = await invite(t, uniqueEmail('fresh'));
    const other = await signUp(deps);
    expect(await codeOf(other.api.invitations.accept({ token, password: PASSWORD }))).toBe('FORBIDDEN');
    expect(await codeOf(anon().invitations.details({ token }))).toBe('OK');
  });
});

describe('an existing user', () => {
  it('must be signed in as the invited email: anonymous 401, someone else 403, the invitee OK', async () => {
    const t = await team();
    const invitee = await signUp(deps, uniqueEmail('existing'));
    const { token } = await invite(t, invitee.email, 'ADMIN');
    expect((await anon().invitations.details({ token })).accountExists).toBe(true);

    const anonymous = await errorOf(anon().invitations.accept({ token, password: 'whatever-password' }));
    expect(anonymous.code).toBe('UNAUTHORIZED');
    expect(anonymous.message).toMatch(/sign in/i);
    const stranger = await signUp(deps);
    expect(await codeOf(stranger.api.invitations.accept({ token }))).toBe('FORBIDDEN');
    expect(await membershipRows(t.organizationId, invitee.user.id)).toHaveLength(0);
    expect(await membershipRows(t.organizationId, stranger.user.id)).toHaveLength(0);

    const accepted = await invitee.api.invitations.accept({ token });
    expect(accepted).toMatchObject({ organizationId: t.organizationId, role: 'ADMIN', tokens: null });
    expect(accepted.user.id).toBe(invitee.user.id);
    expect((await membershipRows(t.organizationId, invitee.user.id)).map((m) => m.role)).toEqual(['ADMIN']);
  });

  it('accepting twice (or twice at once) gives one membership; the link is then unknown', async () => {
    const t = await team();
    const invitee = await signUp(deps, uniqueEmail('twice'));
    const { token } = await invite(t, invitee.email);
    const results = await Promise.all([
      codeOf(invitee.api.invitations.accept({ token })),
      codeOf(invitee.api.invitations.accept({ token })),
    ]);
    expect(results.sort()).toEqual(['NOT_FOUND', 'OK']);
    expect(await codeOf(invitee.api.invitations.accept({ token }))).toBe('NOT_FOUND');
    expect(await codeOf(anon().invitations.details({ token }))).toBe('NOT_FOUND');
    expect(await membershipRows(t.organizationId, invitee.user.id)).toHaveLength(1);
  });
});

describe('links that no longer work', () => {
  it('an expired invitation answers 400 saying it expired, for details and accept', async () => {
    const t = await team();
    const email = uniqueEmail('late');
    const { invitation, token } = await invite(t, email);
    await deps.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, invitation.id));
    for (const p of [
      anon().invitations.details({ token }),
      anon().invitations.accept({ token, password: PASSWORD }),
    ]) {
      const err = await errorOf(p);
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.message).toMatch(/expired/i);
    }
    const { invitations: list } = await t.owner.api.invitations.list({ organizationId: t.organizationId });
    expect(list.find((i) => i.id === invitation.id)!.status).toBe('expired');
  });

  it('a revoked invitation answers 404, and cannot be revoked again', async () => {
    const t = await team();
    const email = uniqueEmail('revoked');
    const { invitation, token } = await invite(t, email);
    const revoked = await t.owner.api.invitations.revoke({ invitationId: invitation.id });
    expect(revoked.status).toBe('revoked');
    expect(await codeOf(anon().invitations.details({ token }))).toBe('NOT_FOUND');
    expect(await codeOf(anon().invitations.accept({ token, password: PASSWORD }))).toBe('NOT_FOUND');
    expect(await codeOf(t.owner.api.invitations.revoke({ invitationId: invitation.id }))).toBe('CONFLICT');
    expect(await codeOf(anon().invitations.details({ token: 'x'.repeat(43) }))).toBe('NOT_FOUND');
  });
});

describe('sending again', () => {
  it('re-inviting a pending email keeps the invitation, rotates its token and extends it', async () => {
    const t = await team();
    const email = uniqueEmail('again');
    const first = await invite(t, email, 'MEMBER');
    await deps.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() + DAY) })
      .where(eq(invitations.id, first.invitation.id));
    const again = await t.owner.api.invitations.create({
      organizationId: t.organizationId,
      email,
      role: 'MODERATOR',
    });
    const token = await tokenFromOutbox(deps, email, 'invitation');
    expect(again.id).toBe(first.invitation.id);
    expect(again.role).toBe('MODERATOR');
    expect(token).not.toBe(first.token);
    expect(new Date(again.expiresAt).getTime()).toBeGreaterThan(Date.now() + 7 * DAY - 60_000);
    expect(await codeOf(anon().invitations.details({ token: first.token }))).toBe('NOT_FOUND');
    expect((await anon().invitations.details({ token })).role).toBe('MODERATOR');
    const pending = await deps.db
      .select()
      .from(invitations)
      .where(and(eq(invitations.organizationId, t.organizationId), eq(invitations.email, email)));
    expect(pending.map((p) => p.status)).toEqual(['pending']);
    const actions = await deps.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.organizationId, t.organizationId), eq(auditLog.targetId, first.invitation.id)));
    expect(actions.map((a) => a.action).sort()).toEqual(['invitation.created', 'invitation.rotated']);
  });

  it('resend rotates the link; a second resend within a minute is 429', async () => {
    const t = await team();
    const email = uniqueEmail('resend');
    const { invitation, token } = await invite(t, email);
    const resent = await t.owner.api.invitations.resend({ invitationId: invitation.id });
    expect(resent.id).toBe(invitation.id);
    const newToken = await tokenFromOutbox(deps, email, 'invitation');
    expect(newToken).not.toBe(token);
    expect(await codeOf(anon().invitations.details({ token }))).toBe('NOT_FOUND');
    expect(await codeOf(anon().invitations.details({ token: newToken }))).toBe('OK');

    const err = await errorOf(t.owner.api.invitations.resend({ invitationId: invitation.id }));
    expect(err.code).toBe('TOO_MANY_REQUESTS');
    expect(err.message).toMatch(/minute|seconds/);
    // The refused resend changed nothing: the last link still works.
    expect(await codeOf(anon().invitations.details({ token: newToken }))).toBe('OK');
  });
});

describe('refusals', () => {
  it('inviting an existing member is 409, in any letter case', async () => {
    const t = await team();
    const member = await signUp(deps, uniqueEmail('member'));
    const { token } = await invite(t, member.email);
    await member.api.invitations.accept({ token });
    for (const email of [member.email, member.email.toUpperCase(), t.owner.email]) {
      expect(await codeOf(t.owner.api.invitations.create({ organizationId: t.organizationId, email }))).toBe(
        'CONFLICT',
      );
    }
  });

  it('a solo organization cannot invite anyone', async () => {
    const { api } = await signUp(deps);
    const { memberships: mine } = await api.users.memberships({ includeSolo: true });
    const solo = mine.find((m) => m.isSolo)!;
    const err = await errorOf(
      api.invitations.create({ organizationId: solo.organizationId, email: uniqueEmail() }),
    );
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/solo|personal/i);
  });

  it('a MODERATOR may invite a MEMBER but not an ADMIN or MODERATOR; a MEMBER may not invite', async () => {
    const t = await team();
    const mod = await signUp(deps, uniqueEmail('mod'));
    const plain = await signUp(deps, uniqueEmail('plain'));
    await mod.api.invitations.accept({ token: (await invite(t, mod.email, 'MODERATOR')).token });
    await plain.api.invitations.accept({ token: (await invite(t, plain.email, 'MEMBER')).token });
    const organizationId = t.organizationId;
    expect(
      await codeOf(mod.api.invitations.create({ organizationId, email: uniqueEmail(), role: 'ADMIN' })),
    ).toBe('FORBIDDEN');
    expect(
      await codeOf(mod.api.invitations.create({ organizationId, email: uniqueEmail(), role: 'MODERATOR' })),
    ).toBe('FORBIDDEN');
    expect(
      await codeOf(mod.api.invitations.create({ organizationId, email: uniqueEmail(), role: 'MEMBER' })),
    ).toBe('OK');
    expect(
      await codeOf(plain.api.invitations.create({ organizationId, email: uniqueEmail(), role: 'MEMBER' })),
    ).toBe('FORBIDDEN');
    expect(await codeOf(plain.api.invitations.list({ organizationId }))).toBe('FORBIDDEN');
  });
});

describe('invitations.list', () => {
  it('shows pending, accepted, revoked and expired invitations with their status', async () => {
    const t = await team();
    const joiner = await signUp(deps, uniqueEmail('joiner'));
    const pending = await invite(t, uniqueEmail('pending'));
    const accepted = await invite(t, joiner.email);
    await joiner.api.invitations.accept({ token: accepted.token });
    const revoked = await invite(t, uniqueEmail('revoked'));
    await t.owner.api.invitations.revoke({ invitationId: revoked.invitation.id });
    const expired = await invite(t, uniqueEmail('expired'));
    await deps.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, expired.invitation.id));

    const { invitations: list } = await t.owner.api.invitations.list({ organizationId: t.organizationId });
    const statusOf = (id: string) => list.find((i) => i.id === id)?.status;
    expect({
      pending: statusOf(pending.invitation.id),
      accepted: statusOf(accepted.invitation.id),
      revoked: statusOf(revoked.invitation.id),
      expired: statusOf(expired.invitation.id),
    }).toEqual({ pending: 'pending', accepted: 'accepted', revoked: 'revoked', expired: 'expired' });
    expect(list).toHaveLength(4);
    expect(list.find((i) => i.id === accepted.invitation.id)!.acceptedAt).not.toBeNull();
  });
});

describe('rate limit per organization', () => {
  it('refuses invitations beyond RATE_LIMIT_INVITATIONS with 429', async () => {
    const limited = await createTestDeps({ ...NO_SEAT_LIMIT, RATE_LIMIT_INVITATIONS: '2/3600' });
    try {
      const owner = await signUp(limited, uniqueEmail('limited'));
      const org = await owner.api.organizations.create({ name: 'Busy' });
      const send = () => owner.api.invitations.create({ organizationId: org.id, email: uniqueEmail() });
      expect([await codeOf(send()), await codeOf(send())]).toEqual(['OK', 'OK']);
      const err = await errorOf(send());
      expect(err.code).toBe('TOO_MANY_REQUESTS');
    } finally {
      await limited.close();
    }
  });
});
