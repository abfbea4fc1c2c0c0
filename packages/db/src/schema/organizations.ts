import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  boolean,
  check,
  foreignKey,
  index,
  pgTable,
  text,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns.js';
import { orgRole } from './enums.js';
import { users } from './users.js';

export const organizations = pgTable(
  'organizations',
  {
    id: id(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    isSolo: boolean('is_solo').notNull().default(false),
    ownerUserId: uuid('owner_user_id')
      .notNull()
      .references((): AnyPgColumn => users.id),
    // Always 'ADMIN': lets the composite foreign key below demand that the owner is an ADMIN member.
    ownerRole: orgRole('owner_role').notNull().default('ADMIN'),
    stripeCustomerId: text('stripe_customer_id'),
    plan: text('plan').notNull().default('free'),
    // Members without two-factor get 403 on this organization's procedures (API keys are not people).
    requireTwoFactor: boolean('require_two_factor').notNull().default(false),
    deletedAt: tstz('deleted_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('organizations_slug_key').on(t.slug),
    uniqueIndex('organizations_stripe_customer_id_key').on(t.stripeCustomerId),
    // At most one solo organization per user.
    uniqueIndex('organizations_one_solo_per_user').on(t.ownerUserId).where(sql`${t.isSolo}`),
    index('organizations_owner_idx').on(t.ownerUserId),
    check('organizations_owner_is_admin', sql`${t.ownerRole} = 'ADMIN'`),
    // Exactly one owner, and the owner holds an ADMIN membership: demoting or removing the owner's
    // membership violates this key. Made DEFERRABLE in a custom migration so the organization and the
    // owner's membership can be inserted in one transaction.
    foreignKey({
      name: 'organizations_owner_membership_fk',
      columns: [t.id, t.ownerUserId, t.ownerRole],
      foreignColumns: [memberships.organizationId, memberships.userId, memberships.role],
    }),
  ],
);

export const memberships = pgTable(
  'memberships',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references((): AnyPgColumn => organizations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: orgRole('role').notNull().default('MEMBER'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique('memberships_organization_user_key').on(t.organizationId, t.userId),
    // Target of the owner foreign key on organizations.
    unique('memberships_organization_user_role_key').on(t.organizationId, t.userId, t.role),
    index('memberships_user_idx').on(t.userId),
  ],
);
