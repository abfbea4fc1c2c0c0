// Support impersonation (admin.impersonate / admin.endImpersonation): who may start it and on whom,
// what a support session may read and write, its end and expiry, and its trail in the audit log and
// the user's mailbox — all through the real router, database, Redis and job queue.
import { auditLog, emailOutbox, memberships, organizations, sessions, users } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, insertApiKey, signUp, uniqueEmail } from './fixtures.js';

let deps: TestDeps;
type Person = Awaited<ReturnType<typeof signUp>>;
let superadmin: Person;
let sysadmin: Person;
/** The user support acts as: owner of team T, MEMBER of O. */
let target: Person;
/** O's owner (its ADMIN), who must see support's visit in O's audit log. */
let ownerOfO: Person;
let teamT: string;
let orgO: string;
let soloOfTarget: string;
const REASON = 'Ticket 4411: the export never finishes';

async function soloOf(userId: string) {
  const [row] = await deps.db
    .select({ id: organizations.id })
    .from(organizations)
    .where(and(eq(organizations.ownerUserId, userId), eq(organizations.isSolo, true)));
  return row!.id;
}

beforeAll(async () => {
  deps = await createTestDeps({ PLAN_FREE_SEATS: '10000' });
  [superadmin, sysadmin, target, ownerOfO] = await Promise.all([
    signUp(deps, uniqueEmail('super')),
    signUp(deps, uniqueEmail('sysadmin')),
    signUp(deps, uniqueEmail('target')),
    signUp(deps, uniqueEmail('ownero')),
  ]);
  await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, superadmin.user.id));
  await deps.db.update(users).set({ systemRole: 'admin' }).where(eq(users.id, sysadmin.user.id));
  teamT = (await target.api.organizations.create({ name: 'Target Team' })).id;
  orgO = (await ownerOfO.api.organizations.create({ name: 'Other Org' })).id;
  await deps.db.insert(memberships).values({ organizationId: orgO, userId: target.user.id, role: 'MEMBER' });
  soloOfTarget = await soloOf(target.user.id);
});
afterAll(() => deps.close());
afterEach(() => vi.useRealTimers());

const start = (input: { minutes?: number; allowWrite?: boolean; userId?: string } = {}) =>
  superadmin.api.admin.impersonate({
    userId: input.userId ?? target.user.id,
    reason: REASON,
    minutes: input.minutes ?? 30,
    allowWrite: input.allowWrite ?? false,
  });

async function entries(organizationId: string | null, impersonationId: string) {
  const rows = await deps.db.select().from(auditLog).where(eq(auditLog.impersonationId, impersonationId));
  return rows.filter((r) => r.organizationId === organizationId);
}

describe('who may start a support session, and on whom', () => {
  it('only a superadmin: a system admin and a plain user get 403', async () => {
    const input = { userId: target.user.id, reason: REASON, minutes: 5 };
    expect(await codeOf(sysadmin.api.admin.impersonate(input))).toBe('FORBIDDEN');
    expect(await codeOf(ownerOfO.api.admin.impersonate(input))).toBe('FORBIDDEN');
    expect(await codeOf(callerFor(deps).admin.impersonate(input))).toBe('UNAUTHORIZED');
  });

  it("not through an API key, even one of a superadmin's organization", async () => {
    const key = await insertApiKey(deps, await soloOf(superadmin.user.id), superadmin.user.id, 'ADMIN');
    const call = callerFor(deps, key.key).admin.impersonate({
      userId: target.user.id,
      reason: REASON,
      minutes: 5,
    });
    expect(await codeOf(call)).toBe('FORBIDDEN');
  });

  it('never as a system admin or superadmin (403 with a message), nor as a disabled account', async () => {
    await expect(start({ userId: sysadmin.user.id })).rejects.toThrow(/never acts as a system admin/);
    const other = await signUp(deps, uniqueEmail('super2'));
    await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, other.user.id));
    expect(await codeOf(start({ userId: other.user.id }))).toBe('FORBIDDEN');
    expect(await codeOf(start({ userId: superadmin.user.id }))).toBe('BAD_REQUEST');
    const disabled = await signUp(deps, uniqueEmail('disabled'));
    await superadmin.api.admin.users.disable({ userId: disabled.user.id });
    await expect(start({ userId: disabled.user.id })).rejects.toThrow(/disabled/);
    expect(await codeOf(start({ userId: '00000000-0000-4000-8000-000000000000' }))).toBe('NOT_FOUND');
  });

  it('at most 60 minutes, with a reason', async () => {
    expect(await codeOf(start({ minutes: 61 }))).toBe('BAD_REQUEST');
    const noReason = superadmin.api.admin.impersonate({ userId: target.user.id, reason: '', minutes: 5 });
    expect(await codeOf(noReason)).toBe('BAD_REQUEST');
  });
});

describe('a read-only support session', () => {
  it('answers a token acting as the user with the superadmin as its `act`, ending at `minutes`, without a refresh token', async () => {
    const before = Date.now();
    const session = await start({ minutes: 20 });
    expect(session).not.toHaveProperty('refreshToken');
    const claims = decodeJwt(session.accessToken);
    expect(claims.sub).toBe(target.user.id);
    expect(claims.act).toEqual({ sub: superadmin.user.id });
    expect(claims.sid).toBe(session.impersonationId);
    expect(claims.ro).toBe(true);
    const ends = new Date(session.accessTokenExpiresAt).getTime();
    expect(ends).toBeGreaterThanOrEqual(before + 20 * 60_000 - 1000);
    expect(ends).toBeLessThanOrEqual(Date.now() + 20 * 60_000);
    const [row] = await deps.db.select().from(sessions).where(eq(sessions.id, session.impersonationId));
    expect(row).toMatchObject({
      userId: target.user.id,
      impersonatorId: superadmin.user.id,
      refreshTokenHash: null,
    });
  });

  it("reads as the user: users.me is the user (naming who acts), the user's organizations answer", async () => {
    const { accessToken } = await start();
    const api = callerFor(deps, accessToken);
    const me = await api.users.me();
    expect(me.id).toBe(target.user.id);
    expect(me.impersonatedBy).toMatchObject({
      userId: superadmin.user.id,
      reason: REASON,
      allowWrite: false,
    });
    expect((await api.organizations.get({ organizationId: teamT })).id).toBe(teamT);
    expect((await api.organizations.get({ organizationId: orgO })).id).toBe(orgO);
    expect((await api.members.list({ organizationId: teamT })).members.length).toBeGreaterThan(0);
    // The user's (not the superadmin's) access: the system area is closed to it.
    expect(await codeOf(api.admin.users.list({ limit: 10 }))).toBe('FORBIDDEN');
    expect((await target.api.users.me()).impersonatedBy).toBeNull();
  });

  it('refuses every mutation with 403, including sign-out, profile, API keys and invitations', async () => {
    const { accessToken } = await start();
    const api = callerFor(deps, accessToken);
    await expect(
      api.organizations.update({ organizationId: teamT, name: 'Renamed by support' }),
    ).rejects.toThrow(/support session is read-only/);
    expect(await codeOf(api.users.updateMe({ name: 'Support was here' }))).toBe('FORBIDDEN');
    expect(await codeOf(api.auth.logout())).toBe('FORBIDDEN');
    expect(await codeOf(api.users.setActiveOrganization({ organizationId: orgO }))).toBe('FORBIDDEN');
    expect(await codeOf(api.apiKeys.create({ organizationId: teamT, name: 'support', role: 'MEMBER' }))).toBe(
      'FORBIDDEN',
    );
    expect(await codeOf(api.organizations.create({ name: 'Support Org' }))).toBe('FORBIDDEN');
    // optionalAuthProcedure (acts on the token when one is sent) is gated the same way.
    expect(await codeOf(api.invitations.accept({ token: 'x'.repeat(43) }))).toBe('FORBIDDEN');
    const [org] = await deps.db.select().from(organizations).where(eq(organizations.id, teamT));
    expect(org!.name).toBe('Target Team');
    const [user] = await deps.db.select().from(users).where(eq(users.id, target.user.id));
    expect(user!.name).toBeNull();
  });
});

describe('a support session with allowWrite', () => {
  it('writes as the user; what the service audits names the superadmin too', async () => {
    const session = await start({ allowWrite: true });
    const api = callerFor(deps, session.accessToken);
    await api.organizations.update({ organizationId: teamT, name: 'Target Team (fixed)' });
    const renamed = (await entries(teamT, session.impersonationId)).find(
      (e) => e.action === 'organization.renamed',
    );
    expect(renamed).toMatchObject({ actorUserId: target.user.id, impersonatorUserId: superadmin.user.id });
    // Audited by the service itself: no extra support.write entry in T for it.
    expect((await entries(teamT, session.impersonationId)).map((e) => e.action).sort()).toEqual([
      'organization.renamed',
      'support.access',
    ]);
  });

  it("records a write its service does not audit as support.write: in the organization, or the user's solo one", async () => {
    const session = await start({ allowWrite: true });
    const api = callerFor(deps, session.accessToken);
    await api.users.setActiveOrganization({ organizationId: orgO });
    await api.users.updateMe({ name: 'Named by support' });
    const inO = (await entries(orgO, session.impersonationId)).find((e) => e.action === 'support.write');
    expect(inO).toMatchObject({
      actorUserId: target.user.id,
      impersonatorUserId: superadmin.user.id,
      metadata: expect.objectContaining({ procedure: 'users.setActiveOrganization' }),
    });
    const inSolo = (await entries(soloOfTarget, session.impersonationId)).find(
      (e) => e.action === 'support.write',
    );
    expect(inSolo?.metadata).toMatchObject({ procedure: 'users.updateMe' });
  });

  it('still never changes credentials: password, API keys, sign-out, linked sign-ins', async () => {
    const api = callerFor(deps, (await start({ allowWrite: true })).accessToken);
    const password = api.users.updateMe({
      currentPassword: target.password,
      newPassword: 'support-chose-this',
    });
    expect(await codeOf(password)).toBe('FORBIDDEN');
    expect(await codeOf(api.apiKeys.create({ organizationId: teamT, name: 'support', role: 'MEMBER' }))).toBe(
      'FORBIDDEN',
    );
    expect(await codeOf(api.auth.logout({ everywhere: true }))).toBe('FORBIDDEN');
    expect(await codeOf(api.users.unlinkIdentity({ identityId: crypto.randomUUID() }))).toBe('FORBIDDEN');
    expect(await codeOf(api.auth.twoFactor.enroll())).toBe('FORBIDDEN');
    expect(await codeOf(api.auth.twoFactor.disable({ password: target.password }))).toBe('FORBIDDEN');
    expect(await codeOf(target.api.users.me())).toBe('OK');
  });
});

describe('the end of a support session', () => {
  it('its own token ends it: every later call is 401', async () => {
    const session = await start();
    const api = callerFor(deps, session.accessToken);
    await api.users.me();
    // A mutation, but a read-only session may end itself.
    const ended = await api.admin.endImpersonation();
    expect(ended.impersonationId).toBe(session.impersonationId);
    expect(await codeOf(api.users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(api.organizations.get({ organizationId: teamT }))).toBe('UNAUTHORIZED');
  });

  it("a read-only session may follow the user's live stream, which ends when the session is ended", async () => {
    const session = await start();
    const stream = await callerFor(deps, session.accessToken).users.events();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of stream) seen.push((e as { type: string }).type);
    })();
    await superadmin.api.admin.endImpersonation({ impersonationId: session.impersonationId });
    await reading;
    expect(seen).toEqual(['session.revoked']);
  });

  it('a superadmin ends it by id; ending it again answers the same; nobody else may', async () => {
    const session = await start();
    const api = callerFor(deps, session.accessToken);
    expect(
      await codeOf(ownerOfO.api.admin.endImpersonation({ impersonationId: session.impersonationId })),
    ).toBe('FORBIDDEN');
    expect(await codeOf(superadmin.api.admin.endImpersonation())).toBe('BAD_REQUEST');
    const first = await superadmin.api.admin.endImpersonation({ impersonationId: session.impersonationId });
    expect(await codeOf(api.users.me())).toBe('UNAUTHORIZED');
    const again = await superadmin.api.admin.endImpersonation({ impersonationId: session.impersonationId });
    expect(again.endedAt).toBe(first.endedAt);
    // An ordinary session's id is not a support session.
    const [ordinary] = await deps.db.select().from(sessions).where(eq(sessions.userId, ownerOfO.user.id));
    expect(await codeOf(superadmin.api.admin.endImpersonation({ impersonationId: ordinary!.id }))).toBe(
      'NOT_FOUND',
    );
  });

  it('it expires at `minutes`: the token is refused afterwards (clock moved, no waiting)', async () => {
    const session = await start({ minutes: 1 });
    const api = callerFor(deps, session.accessToken);
    expect(await codeOf(api.users.me())).toBe('OK');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    expect(await codeOf(api.users.me())).toBe('UNAUTHORIZED');
  });

  it('the session row bounds it too: a token past its row’s end is refused', async () => {
    const session = await start({ minutes: 30 });
    await deps.db
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.id, session.impersonationId));
    expect(await codeOf(callerFor(deps, session.accessToken).users.me())).toBe('UNAUTHORIZED');
  });

  it('a token claiming an actor its session does not have is refused', async () => {
    const [ordinary] = await deps.db.select().from(sessions).where(eq(sessions.userId, target.user.id));
    const forged = await deps.accessTokens.sign({
      sub: target.user.id,
      sid: ordinary!.id,
      role: 'user',
      act: { sub: superadmin.user.id },
      ro: false,
    });
    expect(await codeOf(callerFor(deps, forged.token).users.me())).toBe('UNAUTHORIZED');
  });
});

describe('the trail', () => {
  it('start, access, write and end are in the solo organization and each organization touched, visible to their ADMINs', async () => {
    const session = await start({ allowWrite: true });
    const api = callerFor(deps, session.accessToken);
    await api.organizations.get({ organizationId: orgO });
    await api.organizations.update({ organizationId: teamT, name: 'Target Team (again)' });
    await api.admin.endImpersonation();
    const message = `support access by ${superadmin.email}: ${REASON}`;

    // O's ADMIN (its owner, not the user) sees support's visit and its end in O's audit log.
    const inO = (
      await ownerOfO.api.organizations.auditLog({ organizationId: orgO, limit: 50 })
    ).entries.filter((e) => e.impersonationId === session.impersonationId);
    expect(inO.map((e) => e.action).sort()).toEqual(['support.access', 'support.impersonation_ended']);
    expect(inO.find((e) => e.action === 'support.access')).toMatchObject({
      actorUserId: superadmin.user.id,
      impersonatorUserId: superadmin.user.id,
      metadata: expect.objectContaining({ message }),
    });

    const inT = (await target.api.organizations.auditLog({ organizationId: teamT, limit: 50 })).entries
      .filter((e) => e.impersonationId === session.impersonationId)
      .map((e) => e.action);
    expect(inT.sort()).toEqual(['organization.renamed', 'support.access', 'support.impersonation_ended']);

    const inSolo = (
      await target.api.organizations.auditLog({ organizationId: soloOfTarget, limit: 50 })
    ).entries
      .filter((e) => e.impersonationId === session.impersonationId)
      .map((e) => e.action);
    expect(inSolo).toContain('support.impersonation_started');
    expect(inSolo).toContain('support.impersonation_ended');

    // The superadmin's own record: the system area's audit entries (organization null).
    const system = (await entries(null, session.impersonationId)).map((e) => [e.action, e.actorUserId]);
    expect(system).toEqual(
      expect.arrayContaining([
        ['support.impersonation_started', superadmin.user.id],
        ['support.impersonation_ended', superadmin.user.id],
      ]),
    );
  });

  it('the user is emailed who acts, why, and until when', async () => {
    const session = await start({ minutes: 15 });
    const mails = await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, target.email));
    const mail = mails.find(
      (m) => m.template === 'support_access' && m.payload.endsAt === session.accessTokenExpiresAt,
    );
    expect(mail?.payload).toMatchObject({ actorEmail: superadmin.email, reason: REASON, allowWrite: false });
    const jobs = await deps.sql`
      select 1 from graphile_worker._private_jobs where payload->>'outboxId' = ${mail!.id}`;
    expect(jobs.length).toBe(1);
  });

  it('one support.access entry per organization however many requests', async () => {
    const session = await start();
    const api = callerFor(deps, session.accessToken);
    for (let i = 0; i < 3; i++) await api.organizations.get({ organizationId: orgO });
    const access = (await entries(orgO, session.impersonationId)).filter(
      (e) => e.action === 'support.access',
    );
    expect(access.length).toBe(1);
  });
});
