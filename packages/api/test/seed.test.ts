import { memberships, organizations, users } from '@woopdi/db';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PASSWORD, demoLogins, type SeededIds, seedDemoWorld, seededIds } from '../src/seed.js';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { signedIn } from './fixtures.js';

const ALL_EMAILS = [
  'super@admin.com',
  'admin@admin.com',
  'customer@customer.com',
  'user@user.com',
  'user_subscribed@user.com',
  'moderator@usersubscribed.com',
  'member1@usersubscribed.com',
  'member2@usersubscribed.com',
  'member3@usersubscribed.com',
  'member4@usersubscribed.com',
  'user_subscribed2@user.com',
] as const;

let deps: TestDeps;
let ids: SeededIds;

/** Row counts of every table in the public schema. */
async function rowCounts(): Promise<Record<string, number>> {
  const tables = await deps.sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`;
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await deps.sql.unsafe(`select count(*)::int as n from "${name}"`);
    counts[name] = row!.n as number;
  }
  return counts;
}

/** Everything the seed writes, without timestamps that would differ between runs anyway. */
const snapshot = async () => ({
  users: await deps.db.select().from(users).orderBy(users.email),
  organizations: await deps.db.select().from(organizations).orderBy(organizations.id),
  memberships: await deps.db.select().from(memberships).orderBy(memberships.id),
});

beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

describe('seedDemoWorld', () => {
  it('creates the world once; a second run changes nothing', async () => {
    const before = await rowCounts();
    const first = await seedDemoWorld(deps);
    expect(first.created).toEqual({ users: 11, organizations: 13, memberships: 20 });
    expect(first.total).toEqual(first.created);
    const afterFirst = await rowCounts();
    expect(afterFirst.users! - before.users!).toBe(11);
    expect(afterFirst.organizations! - before.organizations!).toBe(13);
    expect(afterFirst.memberships! - before.memberships!).toBe(20);
    const rows = await snapshot();

    const second = await seedDemoWorld(deps);
    expect(second.created).toEqual({ users: 0, organizations: 0, memberships: 0 });
    expect(await rowCounts()).toEqual(afterFirst);
    expect(await snapshot()).toEqual(rows);

    // Concurrent seeds (two processes starting at once) serialise instead of failing on unique keys.
    const racing = await Promise.all([seedDemoWorld(deps), seedDemoWorld(deps)]);
    expect(racing.map((r) => r.created.users)).toEqual([0, 0]);
    expect(await rowCounts()).toEqual(afterFirst);

    ids = await seededIds(deps.db);
  });

  it('lets every demo user log in with devpass; emails are verified; system roles as listed', async () => {
    expect(demoLogins.map((l) => l.email).sort()).toEqual([...ALL_EMAILS].sort());
    const api = callerFor(deps);
    for (const email of ALL_EMAILS) {
      const { user, tokens } = signedIn(await api.auth.login({ email, password: DEMO_PASSWORD }));
      expect(user.id).toBe(ids.users[email]);
      expect(user.emailVerified).toBe(true);
      expect(tokens.accessToken).toBeTruthy();
      const expectedRole =
        email === 'super@admin.com' ? 'superadmin' : email === 'admin@admin.com' ? 'admin' : 'user';
      expect(user.systemRole).toBe(expectedRole);
    }
    await expect(
      api.auth.login({ email: 'user@user.com', password: 'wrong-password' }),
    ).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });

  it('gives every user exactly one solo org, owned, as its only (ADMIN) member', async () => {
    for (const email of ALL_EMAILS) {
      const solos = await deps.db
        .select()
        .from(organizations)
        .where(sql`${organizations.ownerUserId} = ${ids.users[email]} and ${organizations.isSolo}`);
      expect(solos).toHaveLength(1);
      expect(solos[0]!.name).toBe(`${email}'s solo org`);
      expect(ids.organizations[`${email}'s solo org`]).toBe(solos[0]!.id);
      const members = await deps.db
        .select()
        .from(memberships)
        .where(eq(memberships.organizationId, solos[0]!.id));
      expect(members.map((m) => [m.userId, m.role])).toEqual([[ids.users[email], 'ADMIN']]);
    }
  });

  it('builds the two team orgs with their owners and roles', async () => {
    const teamOf = async (name: 'Subscribed Org' | 'Subscribed Org 2') => {
      const [org] = await deps.db
        .select()
        .from(organizations)
        .where(eq(organizations.id, ids.organizations[name]));
      const rows = await deps.db
        .select({ email: users.email, role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(eq(memberships.organizationId, org!.id))
        .orderBy(users.email);
      return { org: org!, members: Object.fromEntries(rows.map((r) => [r.email, r.role])) };
    };

    const one = await teamOf('Subscribed Org');
    expect(one.org).toMatchObject({
      name: 'Subscribed Org',
      isSolo: false,
      deletedAt: null,
      stripeCustomerId: null,
    });
    expect(one.org.ownerUserId).toBe(ids.users['user_subscribed@user.com']);
    expect(one.members).toEqual({
      'user_subscribed@user.com': 'ADMIN',
      'moderator@usersubscribed.com': 'MODERATOR',
      'member1@usersubscribed.com': 'MEMBER',
      'member2@usersubscribed.com': 'MEMBER',
      'member3@usersubscribed.com': 'MEMBER',
      'member4@usersubscribed.com': 'MEMBER',
    });

    const two = await teamOf('Subscribed Org 2');
    expect(two.org).toMatchObject({ name: 'Subscribed Org 2', isSolo: false });
    expect(two.org.ownerUserId).toBe(ids.users['user_subscribed2@user.com']);
    expect(two.members).toEqual({
      'user_subscribed2@user.com': 'ADMIN',
      'member3@usersubscribed.com': 'MEMBER',
      'member4@usersubscribed.com': 'MEMBER',
    });

    // Nobody else owns a team org (user@user.com is the "no team organization" user).
    const teams = await deps.db.select().from(organizations).where(eq(organizations.isSolo, false));
    expect(teams.map((o) => o.name).sort()).toEqual(['Subscribed Org', 'Subscribed Org 2']);
  });

  it('shows the memberships through the API as a member sees them', async () => {
    const api = callerFor(deps);
    const { tokens } = signedIn(
      await api.auth.login({ email: 'member3@usersubscribed.com', password: DEMO_PASSWORD }),
    );
    const { memberships: team } = await callerFor(deps, tokens.accessToken).users.memberships();
    expect(team.map((m) => [m.organizationId, m.role, m.isOwner]).sort()).toEqual(
      [
        [ids.organizations['Subscribed Org'], 'MEMBER', false],
        [ids.organizations['Subscribed Org 2'], 'MEMBER', false],
      ].sort(),
    );
  });

  it('leaves rows changed since the last seed alone', async () => {
    const moderator = ids.users['moderator@usersubscribed.com'];
    await deps.db
      .update(memberships)
      .set({ role: 'MEMBER' })
      .where(
        sql`${memberships.userId} = ${moderator} and ${memberships.organizationId} = ${ids.organizations['Subscribed Org']}`,
      );
    const result = await seedDemoWorld(deps);
    expect(result.created).toEqual({ users: 0, organizations: 0, memberships: 0 });
    const [row] = await deps.db
      .select({ role: memberships.role })
      .from(memberships)
      .where(
        sql`${memberships.userId} = ${moderator} and ${memberships.organizationId} = ${ids.organizations['Subscribed Org']}`,
      );
    expect(row!.role).toBe('MEMBER');
  });
});
