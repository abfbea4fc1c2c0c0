// The system area (admin.*): who may list and manage users and organizations, search, filters,
// cursor pagination, system roles (and the last superadmin), disabling and enabling accounts.
import { auditLog, organizations, users } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, PASSWORD, signedIn, signUp, uniqueEmail } from './fixtures.js';

/** Seat limits of the plans are the billing tests' business: here they never get in the way. */
const NO_SEAT_LIMIT = { PLAN_FREE_SEATS: '10000' };
let deps: TestDeps;
type Person = Awaited<ReturnType<typeof signUp>>;
let superadmin: Person;
let admin: Person;
let plain: Person;

beforeAll(async () => {
  deps = await createTestDeps(NO_SEAT_LIMIT);
  [superadmin, admin, plain] = await Promise.all([
    signUp(deps, uniqueEmail('super')),
    signUp(deps, uniqueEmail('admin')),
    signUp(deps, uniqueEmail('plain')),
  ]);
  // The system role is read from the database on every request: the tokens pick it up at once.
  await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, superadmin.user.id));
  await deps.db.update(users).set({ systemRole: 'admin' }).where(eq(users.id, admin.user.id));
});
afterAll(() => deps.close());

const anon = () => callerFor(deps);

/**
 * Users inserted directly (listing needs no password) in one statement: they all get the same
 * created_at, to the microsecond (now()), which tests both the cursor's tie-break and its precision.
 */
async function insertUsers(prefix: string, n: number, extra: Partial<typeof users.$inferInsert> = {}) {
  const rows = await deps.db
    .insert(users)
    .values(
      Array.from({ length: n }, (_, i) => ({
        email: `${prefix}-${i}@list.example.com`,
        passwordHash: 'not-a-hash',
        ...extra,
      })),
    )
    .returning({ id: users.id });
  return rows.map((r) => r.id);
}

describe('who may use the admin area', () => {
  it('admins and superadmins list users and organizations; a plain user is 403, anonymous 401', async () => {
    for (const p of [admin, superadmin]) {
      expect(await codeOf(p.api.admin.users.list({}))).toBe('OK');
      expect(await codeOf(p.api.admin.organizations.list({}))).toBe('OK');
    }
    expect(await codeOf(plain.api.admin.users.list({}))).toBe('FORBIDDEN');
    expect(await codeOf(plain.api.admin.organizations.list({}))).toBe('FORBIDDEN');
    expect(await codeOf(anon().admin.users.list({}))).toBe('UNAUTHORIZED');
  });

  it('only superadmins create admins, change system roles, disable and enable', async () => {
    const target = plain.user.id;
    for (const [who, expected] of [
      [admin, 'FORBIDDEN'],
      [plain, 'FORBIDDEN'],
    ] as const) {
      expect(
        await codeOf(who.api.admin.users.create({ email: uniqueEmail('minted'), password: PASSWORD })),
      ).toBe(expected);
      expect(await codeOf(who.api.admin.users.setSystemRole({ userId: target, systemRole: 'admin' }))).toBe(
        expected,
      );
      expect(await codeOf(who.api.admin.users.disable({ userId: target }))).toBe(expected);
      expect(await codeOf(who.api.admin.users.enable({ userId: target }))).toBe(expected);
    }
    const [row] = await deps.db.select().from(users).where(eq(users.id, target));
    expect(row).toMatchObject({ systemRole: 'user', disabledAt: null });
  });
});

describe('admin.users.list', () => {
  it('searches by email (any case), filters by role / verified / disabled', async () => {
    const tag = `srch${Date.now().toString(36)}`;
    const [verifiedId] = await insertUsers(`${tag}-verified`, 1, { emailVerifiedAt: new Date() });
    const [disabledId] = await insertUsers(`${tag}-disabled`, 1, { disabledAt: new Date() });
    const [adminId] = await insertUsers(`${tag}-admin`, 1, { systemRole: 'admin' });
    const [plainId] = await insertUsers(`${tag}-plain`, 1);
    const list = async (input: Record<string, unknown>) =>
      (await admin.api.admin.users.list({ search: tag.toUpperCase(), ...input })).users
        .map((u) => u.id)
        .sort();

    expect(await list({})).toEqual([verifiedId, disabledId, adminId, plainId].sort());
    expect(await list({ verified: true })).toEqual([verifiedId]);
    expect(await list({ verified: false })).toEqual([disabledId, adminId, plainId].sort());
    expect(await list({ disabled: true })).toEqual([disabledId]);
    expect(await list({ disabled: false })).toEqual([verifiedId, adminId, plainId].sort());
    expect(await list({ systemRole: 'admin' })).toEqual([adminId]);
    expect(await list({ systemRole: 'user', verified: false, disabled: false })).toEqual([plainId]);
    // LIKE wildcards in the search are taken literally.
    expect((await admin.api.admin.users.list({ search: '%' })).users).toEqual([]);
    const { users: found } = await admin.api.admin.users.list({ search: `${tag}-disabled` });
    expect(found).toEqual([
      expect.objectContaining({ id: disabledId, disabled: true, emailVerified: false }),
    ]);
  });

  it('walks every page with the cursor: no duplicates, no gaps, even when created_at ties to the microsecond', async () => {
    const tag = `page${Date.now().toString(36)}`;
    const ids = await insertUsers(tag, 7);
    const walked: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await superadmin.api.admin.users.list({ search: tag, limit: 3, cursor });
      expect(page.users.length).toBeLessThanOrEqual(3);
      walked.push(...page.users.map((u) => u.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(walked).size).toBe(walked.length);
    expect(walked.sort()).toEqual([...ids].sort());
    // A tampered cursor is a 400, not a 500.
    expect(await codeOf(admin.api.admin.users.list({ cursor: 'not-a-cursor' }))).toBe('BAD_REQUEST');
  });
});

describe('admin.organizations.list', () => {
  it('filters by isSolo, searches by name and pages with the cursor', async () => {
    const owners = await Promise.all([1, 2, 3, 4].map(() => signUp(deps, uniqueEmail('orgowner'))));
    const tag = `Zeta${Date.now().toString(36)}`;
    const teams = await Promise.all(
      owners.map((o, i) => o.api.organizations.create({ name: `${tag} Team ${i}` })),
    );
    const { organizations: solos } = await admin.api.admin.organizations.list({ isSolo: true, limit: 100 });
    expect(solos.every((o) => o.isSolo)).toBe(true);
    const soloOwners = new Set(solos.map((o) => o.ownerUserId));
    for (const o of owners) expect(soloOwners.has(o.user.id)).toBe(true);

    const searched = await admin.api.admin.organizations.list({ search: tag.toLowerCase(), isSolo: false });
    expect(searched.organizations.map((o) => o.id).sort()).toEqual(teams.map((t) => t.id).sort());
    expect((await admin.api.admin.organizations.list({ search: tag, isSolo: true })).organizations).toEqual(
      [],
    );

    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin.api.admin.organizations.list({ search: tag, limit: 3, cursor });
      walked.push(...page.organizations.map((o) => o.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(walked.sort()).toEqual(teams.map((t) => t.id).sort());

    // A deleted organization is not listed.
    await owners[0]!.api.organizations.delete({ organizationId: teams[0]!.id });
    const after = await admin.api.admin.organizations.list({ search: tag });
    expect(after.organizations.map((o) => o.id)).not.toContain(teams[0]!.id);
  });
});

describe('admin.users.create', () => {
  it('creates a verified system admin with a solo organization, who can sign in', async () => {
    const email = uniqueEmail('newadmin');
    const created = await superadmin.api.admin.users.create({ email, password: PASSWORD, name: 'New Admin' });
    expect(created).toMatchObject({ email, name: 'New Admin', systemRole: 'admin', emailVerified: true });
    const solos = await deps.db
      .select()
      .from(organizations)
      .where(and(eq(organizations.ownerUserId, created.id), eq(organizations.isSolo, true)));
    expect(solos).toHaveLength(1);
    const { tokens } = signedIn(await anon().auth.login({ email, password: PASSWORD }));
    expect(await codeOf(callerFor(deps, tokens.accessToken).admin.users.list({}))).toBe('OK');
    expect(
      await codeOf(superadmin.api.admin.users.create({ email: email.toUpperCase(), password: PASSWORD })),
    ).toBe('CONFLICT');
    const rows = await deps.db.select().from(auditLog).where(eq(auditLog.targetId, created.id));
    expect(rows.map((r) => [r.action, r.actorUserId])).toEqual([['admin.user_created', superadmin.user.id]]);
  });
});

describe('admin.users.setSystemRole', () => {
  it('cannot demote the last superadmin (409), but can when there are two', async () => {
    const supers = await deps.db.select().from(users).where(eq(users.systemRole, 'superadmin'));
    expect(supers.map((s) => s.id)).toEqual([superadmin.user.id]);
    const err = await superadmin.api.admin.users
      .setSystemRole({ userId: superadmin.user.id, systemRole: 'admin' })
      .catch((e) => e);
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toMatch(/last superadmin/);

    const second = await signUp(deps, uniqueEmail('second'));
    expect(
      await superadmin.api.admin.users.setSystemRole({ userId: second.user.id, systemRole: 'superadmin' }),
    ).toMatchObject({
      systemRole: 'superadmin',
    });
    // The new superadmin has the powers at once, with the token they already had.
    expect(
      await codeOf(second.api.admin.users.setSystemRole({ userId: superadmin.user.id, systemRole: 'admin' })),
    ).toBe('OK');
    expect(await codeOf(superadmin.api.admin.users.list({}))).toBe('OK'); // still an admin
    expect(
      await codeOf(superadmin.api.admin.users.create({ email: uniqueEmail(), password: PASSWORD })),
    ).toBe('FORBIDDEN');
    // Now `second` is the last one.
    expect(
      await codeOf(second.api.admin.users.setSystemRole({ userId: second.user.id, systemRole: 'user' })),
    ).toBe('CONFLICT');
    // Restore the file's superadmin.
    await second.api.admin.users.setSystemRole({ userId: superadmin.user.id, systemRole: 'superadmin' });
    await superadmin.api.admin.users.setSystemRole({ userId: second.user.id, systemRole: 'user' });
    expect(await codeOf(second.api.admin.users.list({}))).toBe('FORBIDDEN');
    expect(
      await codeOf(
        superadmin.api.admin.users.setSystemRole({
          userId: '00000000-0000-4000-8000-000000000000',
          systemRole: 'admin',
        }),
      ),
    ).toBe('NOT_FOUND');
  });
});

describe('admin.users.disable / enable', () => {
  it('disabling ends the user’s tokens at once and refuses login; enabling restores login', async () => {
    const victim = await signUp(deps, uniqueEmail('victim'));
    const other = signedIn(await anon().auth.login({ email: victim.email, password: PASSWORD }));
    const disabled = await superadmin.api.admin.users.disable({ userId: victim.user.id });
    expect(disabled).toMatchObject({ id: victim.user.id, disabled: true });

    expect(await codeOf(victim.api.users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(callerFor(deps, other.tokens.accessToken).users.me())).toBe('UNAUTHORIZED');
    expect(await codeOf(anon().auth.refresh({ refreshToken: victim.tokens.refreshToken }))).toBe(
      'UNAUTHORIZED',
    );
    expect(await codeOf(anon().auth.refresh({ refreshToken: other.tokens.refreshToken }))).toBe(
      'UNAUTHORIZED',
    );
    const login = await anon()
      .auth.login({ email: victim.email, password: PASSWORD })
      .catch((e) => e);
    expect(login.code).toBe('UNAUTHORIZED');
    expect(login.message).toMatch(/disabled/);
    const { users: listed } = await admin.api.admin.users.list({ search: victim.email, disabled: true });
    expect(listed.map((u) => u.id)).toEqual([victim.user.id]);

    expect(await superadmin.api.admin.users.enable({ userId: victim.user.id })).toMatchObject({
      disabled: false,
    });
    const again = signedIn(await anon().auth.login({ email: victim.email, password: PASSWORD }));
    expect(await codeOf(callerFor(deps, again.tokens.accessToken).users.me())).toBe('OK');
    // The sessions ended by the disable stay ended.
    expect(await codeOf(victim.api.users.me())).toBe('UNAUTHORIZED');

    const actions = await deps.db.select().from(auditLog).where(eq(auditLog.targetId, victim.user.id));
    expect(actions.map((a) => a.action).sort()).toEqual(['admin.user_disabled', 'admin.user_enabled']);
  });

  it('a superadmin cannot disable (or enable) themself', async () => {
    expect(await codeOf(superadmin.api.admin.users.disable({ userId: superadmin.user.id }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(superadmin.api.admin.users.enable({ userId: superadmin.user.id }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(superadmin.api.users.me())).toBe('OK');
  });
});
