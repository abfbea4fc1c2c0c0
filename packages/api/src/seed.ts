// The demo world: the seed system's users and organizations (all with password `devpass`), for
// `pnpm seed`, the embedded `pnpm start`, and tests. Idempotent: a second run changes nothing.
import { hashPassword, type Logger } from '@woopdi/core';
import {
  type Db,
  memberships,
  type OrgRole,
  organizations,
  type SystemRole,
  type Tx,
  users,
} from '@woopdi/db';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import {
  createSoloOrganization,
  insertOrganization,
  soloOrganizationName,
} from './services/organizations.js';

export const DEMO_PASSWORD = 'devpass';

interface DemoUser {
  email: string;
  name: string;
  systemRole: SystemRole;
}

const DEMO_USERS = [
  { email: 'super@admin.com', name: 'Super Admin', systemRole: 'superadmin' },
  { email: 'admin@admin.com', name: 'Admin', systemRole: 'admin' },
  { email: 'customer@customer.com', name: 'Customer', systemRole: 'user' },
  { email: 'user@user.com', name: 'User', systemRole: 'user' },
  { email: 'user_subscribed@user.com', name: 'Subscribed User', systemRole: 'user' },
  { email: 'moderator@usersubscribed.com', name: 'Moderator', systemRole: 'user' },
  { email: 'member1@usersubscribed.com', name: 'Member One', systemRole: 'user' },
  { email: 'member2@usersubscribed.com', name: 'Member Two', systemRole: 'user' },
  { email: 'member3@usersubscribed.com', name: 'Member Three', systemRole: 'user' },
  { email: 'member4@usersubscribed.com', name: 'Member Four', systemRole: 'user' },
  { email: 'user_subscribed2@user.com', name: 'Subscribed User 2', systemRole: 'user' },
] as const satisfies readonly DemoUser[];

export type DemoEmail = (typeof DEMO_USERS)[number]['email'];

const DEMO_TEAMS = [
  {
    name: 'Subscribed Org',
    owner: 'user_subscribed@user.com',
    members: [
      ['moderator@usersubscribed.com', 'MODERATOR'],
      ['member1@usersubscribed.com', 'MEMBER'],
      ['member2@usersubscribed.com', 'MEMBER'],
      ['member3@usersubscribed.com', 'MEMBER'],
      ['member4@usersubscribed.com', 'MEMBER'],
    ],
  },
  {
    name: 'Subscribed Org 2',
    owner: 'user_subscribed2@user.com',
    members: [
      ['member3@usersubscribed.com', 'MEMBER'],
      ['member4@usersubscribed.com', 'MEMBER'],
    ],
  },
] as const satisfies ReadonlyArray<{
  name: string;
  owner: DemoEmail;
  members: ReadonlyArray<readonly [DemoEmail, Exclude<OrgRole, 'ADMIN'>]>;
}>;

export type DemoTeamName = (typeof DEMO_TEAMS)[number]['name'];

/** Every demo login with what it can show, for printing (every password is `devpass`). */
export const demoLogins: ReadonlyArray<{ email: DemoEmail; role: string }> = [
  { email: 'super@admin.com', role: 'system superadmin' },
  { email: 'admin@admin.com', role: 'system admin' },
  { email: 'customer@customer.com', role: 'user' },
  { email: 'user@user.com', role: 'user, no team organization' },
  { email: 'user_subscribed@user.com', role: 'owner (ADMIN) of "Subscribed Org"' },
  { email: 'moderator@usersubscribed.com', role: 'MODERATOR in "Subscribed Org"' },
  { email: 'member1@usersubscribed.com', role: 'MEMBER in "Subscribed Org"' },
  { email: 'member2@usersubscribed.com', role: 'MEMBER in "Subscribed Org"' },
  { email: 'member3@usersubscribed.com', role: 'MEMBER in "Subscribed Org" and "Subscribed Org 2"' },
  { email: 'member4@usersubscribed.com', role: 'MEMBER in "Subscribed Org" and "Subscribed Org 2"' },
  { email: 'user_subscribed2@user.com', role: 'owner (ADMIN) of "Subscribed Org 2"' },
];

export interface SeedCounts {
  /** Rows this run inserted. */
  created: { users: number; organizations: number; memberships: number };
  /** The demo world's size: 11 users, 13 organizations (11 solo + 2 teams), 20 memberships. */
  total: { users: number; organizations: number; memberships: number };
}

async function ensureMembership(
  tx: Tx,
  organizationId: string,
  userId: string,
  role: OrgRole,
): Promise<boolean> {
  const [existing] = await tx
    .select({ id: memberships.id })
    .from(memberships)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
  if (existing) return false; // a role changed since the last seed is left as it is
  await tx.insert(memberships).values({ organizationId, userId, role });
  return true;
}

/**
 * Creates whatever part of the demo world is missing, in one transaction (check, then insert), and
 * leaves existing rows as they are: seeding twice, or seeding a world someone has used since,
 * changes nothing already there.
 */
export async function seedDemoWorld(
  deps: { db: Db; logger?: Logger },
  options: { password?: string } = {},
): Promise<SeedCounts> {
  const created = { users: 0, organizations: 0, memberships: 0 };
  await deps.db.transaction(async (tx) => {
    // Two seeds at once (two processes starting) queue here instead of racing the unique keys.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('woopdi:seed-demo-world'))`);

    let passwordHash: string | undefined; // hashed at most once, and only if a user is missing
    const ids = new Map<DemoEmail, string>();
    for (const demo of DEMO_USERS) {
      let user = await tx.query.users.findFirst({ where: eq(users.email, demo.email) });
      if (!user) {
        passwordHash ??= await hashPassword(options.password ?? DEMO_PASSWORD);
        [user] = await tx
          .insert(users)
          .values({ ...demo, passwordHash, emailVerifiedAt: new Date() })
          .returning();
        created.users++;
      }
      ids.set(demo.email, user!.id);
      const [solo] = await tx
        .select({ id: organizations.id })
        .from(organizations)
        .where(and(eq(organizations.ownerUserId, user!.id), eq(organizations.isSolo, true)));
      if (!solo) {
        await createSoloOrganization(tx, user!);
        created.organizations++;
        created.memberships++;
      }
    }

    for (const team of DEMO_TEAMS) {
      const ownerId = ids.get(team.owner)!;
      let [org] = await tx
        .select({ id: organizations.id })
        .from(organizations)
        .where(
          and(
            eq(organizations.name, team.name),
            eq(organizations.ownerUserId, ownerId),
            eq(organizations.isSolo, false),
            isNull(organizations.deletedAt),
          ),
        );
      if (!org) {
        org = await insertOrganization(tx, { name: team.name, ownerUserId: ownerId, isSolo: false });
        created.organizations++;
        created.memberships++;
      }
      for (const [email, role] of team.members) {
        if (await ensureMembership(tx, org.id, ids.get(email)!, role)) created.memberships++;
      }
    }
  });

  const total = {
    users: DEMO_USERS.length,
    organizations: DEMO_USERS.length + DEMO_TEAMS.length,
    memberships: DEMO_USERS.length + DEMO_TEAMS.reduce((n, t) => n + 1 + t.members.length, 0),
  };
  deps.logger?.info(
    { created, total },
    created.users + created.organizations + created.memberships === 0
      ? 'demo world already seeded: nothing to do'
      : `seeded the demo world: ${created.users} users, ${created.organizations} organizations, ${created.memberships} memberships created`,
  );
  return { created, total };
}

export interface SeededIds {
  users: Record<DemoEmail, string>;
  /** Team organizations by name, and every demo user's solo organization by its name ("<email>'s solo org"). */
  organizations: Record<DemoTeamName, string> & Record<string, string>;
}

/** The ids of the seeded users and organizations (for tests); throws if the world is not seeded. */
export async function seededIds(db: Db): Promise<SeededIds> {
  const emails = DEMO_USERS.map((u) => u.email);
  const rows = await db
    .select({ id: users.id, email: users.email })
    .from(users)
    .where(inArray(users.email, emails));
  const byEmail = Object.fromEntries(rows.map((r) => [r.email, r.id])) as Record<DemoEmail, string>;
  const missing = emails.filter((e) => !byEmail[e]);
  if (missing.length > 0)
    throw new Error(`The demo world is not seeded (missing ${missing.join(', ')}): run seedDemoWorld first.`);

  const orgs: Record<string, string> = {};
  const owned = await db
    .select({
      id: organizations.id,
      name: organizations.name,
      isSolo: organizations.isSolo,
      ownerUserId: organizations.ownerUserId,
    })
    .from(organizations)
    .where(and(inArray(organizations.ownerUserId, Object.values(byEmail)), isNull(organizations.deletedAt)));
  for (const demo of DEMO_USERS) {
    const solo = owned.find((o) => o.isSolo && o.ownerUserId === byEmail[demo.email]);
    if (solo) orgs[soloOrganizationName(demo.email)] = solo.id;
  }
  for (const team of DEMO_TEAMS) {
    const org = owned.find((o) => !o.isSolo && o.name === team.name && o.ownerUserId === byEmail[team.owner]);
    if (!org) throw new Error(`The demo world is not seeded (no "${team.name}"): run seedDemoWorld first.`);
    orgs[team.name] = org.id;
  }
  return { users: byEmail, organizations: orgs as SeededIds['organizations'] };
}
