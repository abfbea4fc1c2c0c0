// The rules that the database itself enforces, whatever code writes to it.
import { hashPassword } from '@woopdi/core';
import { memberships, organizations, users } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOrganization } from '../src/services/organizations.js';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { signUp } from './fixtures.js';

let deps: TestDeps;
let passwordHash: string;
beforeAll(async () => {
  deps = await createTestDeps();
  passwordHash = await hashPassword('irrelevant');
});
afterAll(() => deps.close());

const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'committed',
    (e) => String((e as { cause?: { constraint_name?: string } }).cause?.constraint_name ?? e),
  );

describe('database constraints', () => {
  it('emails are unique and must be stored lower-cased', async () => {
    await deps.db.insert(users).values({ email: 'dup@example.com', passwordHash });
    expect(await failure(deps.db.insert(users).values({ email: 'dup@example.com', passwordHash }))).toBe(
      'users_email_key',
    );
    expect(await failure(deps.db.insert(users).values({ email: 'Upper@example.com', passwordHash }))).toBe(
      'users_email_lowercase',
    );
  });

  it('a user has at most one solo organization', async () => {
    const { user } = await signUp(deps);
    expect(
      await failure(
        deps.db.transaction((tx) =>
          insertOrganization(tx, { name: 'second solo', ownerUserId: user.id, isSolo: true }),
        ),
      ),
    ).toBe('organizations_one_solo_per_user');
  });

  it('a membership is unique per (organization, user)', async () => {
    const { user } = await signUp(deps);
    const [solo] = await deps.db.select().from(organizations).where(eq(organizations.ownerUserId, user.id));
    expect(
      await failure(
        deps.db.insert(memberships).values({ organizationId: solo!.id, userId: user.id, role: 'MEMBER' }),
      ),
    ).toBe('memberships_organization_user_key');
  });

  it('the owner must hold an ADMIN membership: demoting or removing it fails', async () => {
    const { user } = await signUp(deps);
    const [solo] = await deps.db.select().from(organizations).where(eq(organizations.ownerUserId, user.id));
    const ownerMembership = eq(memberships.organizationId, solo!.id);
    expect(await failure(deps.db.update(memberships).set({ role: 'MEMBER' }).where(ownerMembership))).toBe(
      'organizations_owner_membership_fk',
    );
    expect(await failure(deps.db.delete(memberships).where(ownerMembership))).toBe(
      'organizations_owner_membership_fk',
    );
  });

  it('an organization cannot be created without its owner being a member', async () => {
    const { user } = await signUp(deps);
    expect(
      await failure(
        deps.db
          .insert(organizations)
          .values({ name: 'ownerless', slug: 'ownerless-1', ownerUserId: user.id }),
      ),
    ).toBe('organizations_owner_membership_fk');
  });

  it('ownership can move to another ADMIN member in one transaction, keeping exactly one owner', async () => {
    const a = await signUp(deps);
    const b = await signUp(deps);
    const org = await deps.db.transaction((tx) =>
      insertOrganization(tx, { name: 'Team', ownerUserId: a.user.id, isSolo: false }),
    );
    await deps.db.insert(memberships).values({ organizationId: org.id, userId: b.user.id, role: 'ADMIN' });
    await deps.db.update(organizations).set({ ownerUserId: b.user.id }).where(eq(organizations.id, org.id));
    const [after] = await deps.db.select().from(organizations).where(eq(organizations.id, org.id));
    expect(after!.ownerUserId).toBe(b.user.id);
    // …but not to someone who is not an ADMIN member.
    const c = await signUp(deps);
    await deps.db.insert(memberships).values({ organizationId: org.id, userId: c.user.id, role: 'MEMBER' });
    expect(
      await failure(
        deps.db.update(organizations).set({ ownerUserId: c.user.id }).where(eq(organizations.id, org.id)),
      ),
    ).toBe('organizations_owner_membership_fk');
  });
});
