import { memberships, organizations, users } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, signUp } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

describe('organizations.create', () => {
  it('makes the caller owner and ADMIN of a new team org, listed in their memberships', async () => {
    const { api, user } = await signUp(deps);
    const org = await api.organizations.create({ name: 'Acme Inc.' });
    expect(org).toMatchObject({ name: 'Acme Inc.', isSolo: false, ownerUserId: user.id, plan: 'free' });
    expect(org.slug).toMatch(/^acme-inc-[0-9a-f]{6}$/);
    const { memberships: team } = await api.users.memberships();
    expect(team).toEqual([expect.objectContaining({ organizationId: org.id, role: 'ADMIN', isOwner: true })]);
    const { memberships: all } = await api.users.memberships({ includeSolo: true });
    expect(all.map((m) => m.isSolo)).toEqual([false, true]);
  });

  it('refuses a team org beyond MAX_OWNED_TEAM_ORGS with 409', async () => {
    const { api, user } = await signUp(deps);
    await api.organizations.create({ name: 'One' });
    const err = await api.organizations.create({ name: 'Two' }).catch((e) => e);
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toMatch(/already own/);
    const owned = await deps.db
      .select()
      .from(organizations)
      .where(and(eq(organizations.ownerUserId, user.id), eq(organizations.isSolo, false)));
    expect(owned).toHaveLength(1);
  });

  it('holds the limit under concurrent creates', async () => {
    const { api, user } = await signUp(deps);
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => codeOf(api.organizations.create({ name: `Race ${i}` }))),
    );
    expect(results.filter((r) => r === 'OK')).toHaveLength(1);
    const owned = await deps.db
      .select()
      .from(organizations)
      .where(and(eq(organizations.ownerUserId, user.id), eq(organizations.isSolo, false)));
    expect(owned).toHaveLength(1);
  });

  it('follows a configured limit', async () => {
    const two = await createTestDeps({ MAX_OWNED_TEAM_ORGS: '2' });
    try {
      const { api } = await signUp(two);
      await api.organizations.create({ name: 'A' });
      await api.organizations.create({ name: 'B' });
      expect(await codeOf(api.organizations.create({ name: 'C' }))).toBe('CONFLICT');
    } finally {
      await two.close();
    }
  });

  it('needs a signed-in caller', async () => {
    expect(await codeOf(callerFor(deps).organizations.create({ name: 'Nope' }))).toBe('UNAUTHORIZED');
  });
});

describe('organizations.get / update', () => {
  it('a member reads the org with their role; a non-member gets 403, as for an org that does not exist', async () => {
    const owner = await signUp(deps);
    const org = await owner.api.organizations.create({ name: 'Readable' });
    expect(await owner.api.organizations.get({ organizationId: org.id })).toMatchObject({
      id: org.id,
      role: 'ADMIN',
      isOwner: true,
    });
    const stranger = await signUp(deps);
    const denied = await stranger.api.organizations.get({ organizationId: org.id }).catch((e) => e);
    const missing = await stranger.api.organizations
      .get({ organizationId: '00000000-0000-4000-8000-000000000000' })
      .catch((e) => e);
    expect(denied.code).toBe('FORBIDDEN');
    expect(missing.code).toBe('FORBIDDEN');
    expect(denied.message).toBe(missing.message);
  });

  it('an ADMIN renames a team org; a MEMBER cannot', async () => {
    const owner = await signUp(deps);
    const org = await owner.api.organizations.create({ name: 'Before' });
    const member = await signUp(deps);
    await deps.db
      .insert(memberships)
      .values({ organizationId: org.id, userId: member.user.id, role: 'MEMBER' });
    expect(await member.api.organizations.get({ organizationId: org.id })).toMatchObject({ role: 'MEMBER' });
    const err = await member.api.organizations
      .update({ organizationId: org.id, name: 'Hijacked' })
      .catch((e) => e);
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/ADMIN/);
    const renamed = await owner.api.organizations.update({ organizationId: org.id, name: 'After' });
    expect(renamed.name).toBe('After');
  });

  it('a solo org cannot be renamed, even by its owner', async () => {
    const { api, user } = await signUp(deps);
    const [solo] = await deps.db
      .select()
      .from(organizations)
      .where(and(eq(organizations.ownerUserId, user.id), eq(organizations.isSolo, true)));
    const err = await api.organizations.update({ organizationId: solo!.id, name: 'Mine' }).catch((e) => e);
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/solo/);
  });

  it('a system superadmin gets no bypass of the org gate', async () => {
    const owner = await signUp(deps);
    const org = await owner.api.organizations.create({ name: 'Private' });
    const admin = await signUp(deps);
    await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, admin.user.id));
    expect(await codeOf(admin.api.organizations.get({ organizationId: org.id }))).toBe('FORBIDDEN');
  });

  it('rejects an organizationId that is not a UUID with 400', async () => {
    const { api } = await signUp(deps);
    expect(await codeOf(api.organizations.get({ organizationId: 'abc' }))).toBe('BAD_REQUEST');
  });
});
