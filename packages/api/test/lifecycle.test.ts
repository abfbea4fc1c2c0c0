// Ownership transfer, leaving and deleting organizations, the user's memberships and active
// organization, the live membership.removed event, and the audit log (written in the same
// transaction as the change, append-only).
import type { UserEvent } from '@woopdi/core';
import { auditLog, invitations, memberships, type OrgRole, organizations } from '@woopdi/db';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, PASSWORD, signedIn, signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';

/** Seat limits of the plans are the billing tests' business: here they never get in the way. */
const NO_SEAT_LIMIT = { PLAN_FREE_SEATS: '10000' };
let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps(NO_SEAT_LIMIT);
});
afterAll(() => deps.close());

type Person = Awaited<ReturnType<typeof signUp>>;

/** A team organization: its owner, and one signed-up member per role asked for (joined by invitation). */
async function team<const R extends Record<string, OrgRole>>(roles: R, name = 'Lifecycle Co') {
  const owner = await signUp(deps, uniqueEmail('owner'));
  const org = await owner.api.organizations.create({ name });
  const people = {} as Record<keyof R, Person>;
  for (const [key, role] of Object.entries(roles)) {
    const person = await signUp(deps, uniqueEmail(key));
    await owner.api.invitations.create({ organizationId: org.id, email: person.email, role });
    await person.api.invitations.accept({ token: await tokenFromOutbox(deps, person.email, 'invitation') });
    people[key as keyof R] = person;
  }
  return { owner, org, organizationId: org.id, ...people };
}

async function ownerOf(organizationId: string) {
  const [org] = await deps.db.select().from(organizations).where(eq(organizations.id, organizationId));
  return org!.ownerUserId;
}

async function roleOf(organizationId: string, userId: string) {
  const [m] = await deps.db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
  return m?.role;
}

async function auditActions(organizationId: string) {
  const rows = await deps.db
    .select()
    .from(auditLog)
    .where(eq(auditLog.organizationId, organizationId))
    .orderBy(asc(auditLog.at), asc(auditLog.id));
  return rows.map((r) => r.action);
}

async function soloOf(person: Person) {
  const { memberships: all } = await person.api.users.memberships({ includeSolo: true });
  return all.find((m) => m.isSolo)!.organizationId;
}

describe('organizations.transferOwnership', () => {
  it('moves ownership from the owner to an ADMIN member; the old owner stays ADMIN', async () => {
    const t = await team({ admin: 'ADMIN' });
    const org = await t.owner.api.organizations.transferOwnership({
      organizationId: t.organizationId,
      userId: t.admin.user.id,
    });
    expect(org.ownerUserId).toBe(t.admin.user.id);
    expect(await t.admin.api.organizations.get({ organizationId: t.organizationId })).toMatchObject({
      isOwner: true,
      role: 'ADMIN',
    });
    expect(await t.owner.api.organizations.get({ organizationId: t.organizationId })).toMatchObject({
      isOwner: false,
      role: 'ADMIN',
    });
    // The former owner can now be managed like any ADMIN, and the new one cannot.
    expect(
      await codeOf(
        t.admin.api.members.updateRole({
          organizationId: t.organizationId,
          userId: t.owner.user.id,
          role: 'MEMBER',
        }),
      ),
    ).toBe('OK');
    expect(
      await codeOf(t.owner.api.members.remove({ organizationId: t.organizationId, userId: t.admin.user.id })),
    ).toBe('FORBIDDEN');
  });

  it('refuses a MODERATOR as new owner (400), a non-owner ADMIN as sender (403), a non-member (404)', async () => {
    const t = await team({ admin: 'ADMIN', mod: 'MODERATOR' });
    const id = t.organizationId;
    expect(
      await codeOf(
        t.owner.api.organizations.transferOwnership({ organizationId: id, userId: t.mod.user.id }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      await codeOf(
        t.admin.api.organizations.transferOwnership({ organizationId: id, userId: t.admin.user.id }),
      ),
    ).toBe('FORBIDDEN');
    expect(
      await codeOf(
        t.mod.api.organizations.transferOwnership({ organizationId: id, userId: t.admin.user.id }),
      ),
    ).toBe('FORBIDDEN');
    const stranger = await signUp(deps);
    expect(
      await codeOf(
        t.owner.api.organizations.transferOwnership({ organizationId: id, userId: stranger.user.id }),
      ),
    ).toBe('NOT_FOUND');
    expect(
      await codeOf(
        t.owner.api.organizations.transferOwnership({ organizationId: id, userId: t.owner.user.id }),
      ),
    ).toBe('BAD_REQUEST');
    expect(await ownerOf(id)).toBe(t.owner.user.id);
    // None of the refused transfers left an audit row.
    expect(await auditActions(id)).not.toContain('organization.ownership_transferred');
  });

  it('refuses a solo organization', async () => {
    const person = await signUp(deps);
    const solo = await soloOf(person);
    expect(
      await codeOf(
        person.api.organizations.transferOwnership({ organizationId: solo, userId: person.user.id }),
      ),
    ).toBe('FORBIDDEN');
  });

  it('holds under two concurrent transfers to two ADMINs: one wins, exactly one owner, an ADMIN member', async () => {
    const t = await team({ a: 'ADMIN', b: 'ADMIN' });
    const id = t.organizationId;
    const results = await Promise.all(
      [t.a, t.b].map((p) =>
        codeOf(t.owner.api.organizations.transferOwnership({ organizationId: id, userId: p.user.id })),
      ),
    );
    expect(results.filter((r) => r === 'OK')).toHaveLength(1);
    expect(results.filter((r) => r !== 'OK')).toEqual(['FORBIDDEN']);
    const winner = results[0] === 'OK' ? t.a : t.b;
    const rows = await deps.db.select().from(organizations).where(eq(organizations.id, id));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.ownerUserId).toBe(winner.user.id);
    expect(await roleOf(id, winner.user.id)).toBe('ADMIN');
    expect(await roleOf(id, t.owner.user.id)).toBe('ADMIN');
    const transfers = (await auditActions(id)).filter((a) => a === 'organization.ownership_transferred');
    expect(transfers).toHaveLength(1);
  });

  it('respects the new owner’s MAX_OWNED_TEAM_ORGS (409): nobody ends up owning more than allowed', async () => {
    const t = await team({ admin: 'ADMIN' });
    await t.admin.api.organizations.create({ name: 'Their Own' });
    const err = await t.owner.api.organizations
      .transferOwnership({ organizationId: t.organizationId, userId: t.admin.user.id })
      .catch((e) => e);
    expect(err.code).toBe('CONFLICT');
    expect(await ownerOf(t.organizationId)).toBe(t.owner.user.id);
  });
});

describe('organizations.leave', () => {
  it('a member leaves and loses access at once (and it is no longer their active organization)', async () => {
    const t = await team({ member: 'MEMBER' });
    const id = t.organizationId;
    await t.member.api.users.setActiveOrganization({ organizationId: id });
    expect(await t.member.api.organizations.leave({ organizationId: id })).toEqual({ left: true });
    expect(await codeOf(t.member.api.organizations.get({ organizationId: id }))).toBe('FORBIDDEN');
    expect((await t.member.api.users.memberships()).memberships).toEqual([]);
    expect((await t.member.api.users.me()).lastActiveOrganizationId).toBeNull();
    expect(await roleOf(id, t.member.user.id)).toBeUndefined();
    expect(await auditActions(id)).toContain('member.left');
  });

  it('the owner cannot leave (403), nor can anyone leave their solo organization (403)', async () => {
    const t = await team({});
    const err = await t.owner.api.organizations.leave({ organizationId: t.organizationId }).catch((e) => e);
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/transfer/i);
    expect(await codeOf(t.owner.api.organizations.leave({ organizationId: await soloOf(t.owner) }))).toBe(
      'FORBIDDEN',
    );
    expect(await roleOf(t.organizationId, t.owner.user.id)).toBe('ADMIN');
  });
});

describe('organizations.delete', () => {
  it('is for the owner only, and never for a solo organization', async () => {
    const t = await team({ admin: 'ADMIN', mod: 'MODERATOR', member: 'MEMBER' });
    for (const p of [t.admin, t.mod, t.member]) {
      expect(await codeOf(p.api.organizations.delete({ organizationId: t.organizationId }))).toBe(
        'FORBIDDEN',
      );
    }
    expect(await codeOf(t.owner.api.organizations.delete({ organizationId: await soloOf(t.owner) }))).toBe(
      'FORBIDDEN',
    );
    expect(await codeOf(t.owner.api.organizations.get({ organizationId: t.organizationId }))).toBe('OK');
  });

  it('removes access for every member at once, revokes pending invitations and their links', async () => {
    const t = await team({ admin: 'ADMIN', member: 'MEMBER' }, 'Doomed Org');
    const id = t.organizationId;
    const inviteeEmail = uniqueEmail('pending');
    const pending = await t.owner.api.invitations.create({ organizationId: id, email: inviteeEmail });
    const token = await tokenFromOutbox(deps, inviteeEmail, 'invitation');

    expect(await t.owner.api.organizations.delete({ organizationId: id })).toEqual({ deleted: true });
    for (const p of [t.owner, t.admin, t.member]) {
      expect(await codeOf(p.api.organizations.get({ organizationId: id }))).toBe('FORBIDDEN');
      expect((await p.api.users.memberships()).memberships.map((m) => m.organizationId)).not.toContain(id);
    }
    const [inv] = await deps.db.select().from(invitations).where(eq(invitations.id, pending.id));
    expect(inv!.status).toBe('revoked');
    expect(await codeOf(callerFor(deps).invitations.details({ token }))).toBe('NOT_FOUND');
    expect(await codeOf(callerFor(deps).invitations.accept({ token, password: PASSWORD }))).toBe('NOT_FOUND');
    const [row] = await deps.db.select().from(organizations).where(eq(organizations.id, id));
    expect(row!.deletedAt).not.toBeNull();
    expect(await auditActions(id)).toContain('organization.deleted');
    // A deleted organization no longer counts toward the owner's limit.
    expect(await codeOf(t.owner.api.organizations.create({ name: 'Second Life' }))).toBe('OK');
  });
});

describe('users.memberships and users.setActiveOrganization', () => {
  it('lists team organizations by default, the solo one too with includeSolo, each with role and isOwner', async () => {
    const t = await team({ mod: 'MODERATOR' }, 'Listed Org');
    const own = await t.mod.api.organizations.create({ name: 'Mod Own' });
    const { memberships: teams } = await t.mod.api.users.memberships();
    expect(teams.map((m) => [m.organizationId, m.role, m.isOwner, m.isSolo]).sort()).toEqual(
      [
        [t.organizationId, 'MODERATOR', false, false],
        [own.id, 'ADMIN', true, false],
      ].sort(),
    );
    const { memberships: all } = await t.mod.api.users.memberships({ includeSolo: true });
    expect(all).toHaveLength(3);
    expect(all.filter((m) => m.isSolo)).toEqual([expect.objectContaining({ role: 'ADMIN', isOwner: true })]);
  });

  it('setActiveOrganization persists across sign-ins and is refused for a non-member', async () => {
    const t = await team({ member: 'MEMBER' });
    expect(await t.member.api.users.setActiveOrganization({ organizationId: t.organizationId })).toEqual({
      lastActiveOrganizationId: t.organizationId,
    });
    const again = signedIn(
      await callerFor(deps).auth.login({ email: t.member.email, password: t.member.password }),
    );
    expect(again.user.lastActiveOrganizationId).toBe(t.organizationId);
    expect((await callerFor(deps, again.tokens.accessToken).users.me()).lastActiveOrganizationId).toBe(
      t.organizationId,
    );
    const stranger = await signUp(deps);
    expect(await codeOf(stranger.api.users.setActiveOrganization({ organizationId: t.organizationId }))).toBe(
      'FORBIDDEN',
    );
    expect((await stranger.api.users.me()).lastActiveOrganizationId).toBeNull();
  });
});

describe('live: users.events', () => {
  it('a removed member’s open stream receives membership.removed for that organization', async () => {
    const t = await team({ member: 'MEMBER' });
    const stream = await t.member.api.users.events();
    const received = (async () => {
      const events: UserEvent[] = [];
      for await (const e of stream) {
        events.push(e);
        if (e.type === 'membership.removed') break;
      }
      return events;
    })();
    await new Promise((r) => setTimeout(r, 200)); // the generator subscribes on its first pull
    await t.owner.api.members.remove({ organizationId: t.organizationId, userId: t.member.user.id });
    const events = await Promise.race([
      received,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no membership.removed within 5 s')), 5000),
      ),
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'membership.removed', organizationId: t.organizationId });
    expect(await codeOf(t.member.api.organizations.get({ organizationId: t.organizationId }))).toBe(
      'FORBIDDEN',
    );
  });
});

describe('audit log', () => {
  it('records every change, is readable by ADMINs only, filters by action and pages with a cursor', async () => {
    const t = await team({ admin: 'ADMIN', mod: 'MODERATOR', member: 'MEMBER', leaver: 'MEMBER' });
    const id = t.organizationId;
    await t.owner.api.organizations.update({ organizationId: id, name: 'Renamed Co' });
    await t.admin.api.members.updateRole({ organizationId: id, userId: t.member.user.id, role: 'MODERATOR' });
    await t.admin.api.members.remove({ organizationId: id, userId: t.member.user.id });
    await t.leaver.api.organizations.leave({ organizationId: id });
    const inv = await t.mod.api.invitations.create({ organizationId: id, email: uniqueEmail('gone') });
    await t.mod.api.invitations.revoke({ invitationId: inv.id });
    await t.owner.api.organizations.transferOwnership({ organizationId: id, userId: t.admin.user.id });

    const { entries } = await t.owner.api.organizations.auditLog({ organizationId: id, limit: 100 });
    const actions = entries.map((e) => e.action);
    for (const action of [
      'organization.created',
      'organization.renamed',
      'member.role_changed',
      'member.removed',
      'member.left',
      'invitation.created',
      'invitation.revoked',
      'invitation.accepted',
      'organization.ownership_transferred',
    ]) {
      expect(actions, action).toContain(action);
    }
    const byAction = (a: string) => entries.filter((e) => e.action === a);
    expect(byAction('organization.renamed')[0]).toMatchObject({
      actorUserId: t.owner.user.id,
      targetId: id,
      metadata: { from: 'Lifecycle Co', to: 'Renamed Co' },
    });
    expect(byAction('member.role_changed')[0]).toMatchObject({
      actorUserId: t.admin.user.id,
      targetType: 'user',
      targetId: t.member.user.id,
      metadata: { from: 'MEMBER', to: 'MODERATOR' },
    });
    expect(byAction('member.removed')[0]).toMatchObject({
      actorUserId: t.admin.user.id,
      targetId: t.member.user.id,
    });
    expect(byAction('member.left')[0]).toMatchObject({ actorUserId: t.leaver.user.id });
    expect(byAction('invitation.revoked')[0]).toMatchObject({ actorUserId: t.mod.user.id, targetId: inv.id });
    expect(byAction('invitation.accepted')).toHaveLength(4);
    expect(byAction('organization.ownership_transferred')[0]).toMatchObject({
      actorUserId: t.owner.user.id,
      targetId: t.admin.user.id,
    });
    // Newest first.
    expect([...entries].sort((a, b) => b.at.localeCompare(a.at)).map((e) => e.id)).toEqual(
      entries.map((e) => e.id),
    );

    const filtered = await t.owner.api.organizations.auditLog({
      organizationId: id,
      action: 'invitation.accepted',
    });
    expect(filtered.entries.map((e) => e.action)).toEqual(Array(4).fill('invitation.accepted'));

    // Walking pages of 3 gives every entry once, in the same order.
    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.owner.api.organizations.auditLog({ organizationId: id, limit: 3, cursor });
      walked.push(...page.entries.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(walked).toEqual(entries.map((e) => e.id));

    expect(await codeOf(t.mod.api.organizations.auditLog({ organizationId: id }))).toBe('FORBIDDEN');
    expect(await codeOf(t.admin.api.organizations.auditLog({ organizationId: id }))).toBe('OK');
  });

  it('records a deletion, though the deleted organization’s log is no longer readable through the API', async () => {
    const t = await team({});
    await t.owner.api.organizations.delete({ organizationId: t.organizationId });
    const rows = await deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.organizationId, t.organizationId), eq(auditLog.action, 'organization.deleted')));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actorUserId: t.owner.user.id, metadata: { name: 'Lifecycle Co' } });
    expect(await codeOf(t.owner.api.organizations.auditLog({ organizationId: t.organizationId }))).toBe(
      'FORBIDDEN',
    );
  });

  it('never keeps a row for a change that rolled back', async () => {
    const t = await team({ member: 'MEMBER' });
    const id = t.organizationId;
    const before = await auditActions(id);
    // A deferred trigger fails the removal at commit, after the audit row was inserted in the transaction.
    await deps.sql.unsafe(`create or replace function fail_member_delete() returns trigger language plpgsql as $$
      begin if old.user_id = '${t.member.user.id}' then raise exception 'boom'; end if; return null; end $$;
      create constraint trigger fail_member_delete after delete on memberships deferrable initially deferred
        for each row execute function fail_member_delete();`);
    try {
      expect(await codeOf(t.owner.api.members.remove({ organizationId: id, userId: t.member.user.id }))).toBe(
        'INTERNAL_SERVER_ERROR',
      );
    } finally {
      await deps.sql.unsafe(
        'drop trigger fail_member_delete on memberships; drop function fail_member_delete();',
      );
    }
    expect(await roleOf(id, t.member.user.id)).toBe('MEMBER');
    expect(await auditActions(id)).toEqual(before);
    // And the same removal, once it can commit, is recorded.
    await t.owner.api.members.remove({ organizationId: id, userId: t.member.user.id });
    expect(await auditActions(id)).toEqual([...before, 'member.removed']);
  });

  it('refuses UPDATE of its rows (append-only)', async () => {
    const t = await team({});
    const [row] = await deps.db.select().from(auditLog).where(eq(auditLog.organizationId, t.organizationId));
    expect(row).toBeDefined();
    await expect(deps.sql`update audit_log set action = 'tampered' where id = ${row!.id}`).rejects.toThrow(
      /append-only/,
    );
    const [after] = await deps.db.select().from(auditLog).where(eq(auditLog.id, row!.id));
    expect(after!.action).toBe(row!.action);
  });
});
