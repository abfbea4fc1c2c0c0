import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  boolean,
  check,
  index,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns.js';
import { oneTimeTokenPurpose, systemRole } from './enums.js';
import { organizations } from './organizations.js';

export const users = pgTable(
  'users',
  {
    id: id(),
    email: text('email').notNull(),
    name: text('name'),
    // Null for accounts created through an OAuth provider until a password is set (password reset).
    passwordHash: text('password_hash'),
    systemRole: systemRole('system_role').notNull().default('user'),
    emailVerifiedAt: tstz('email_verified_at'),
    disabledAt: tstz('disabled_at'),
    lastActiveOrganizationId: uuid('last_active_organization_id').references(
      (): AnyPgColumn => organizations.id,
      { onDelete: 'set null' },
    ),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Emails are stored lower-cased; the check makes the unique index cover case variants too.
    uniqueIndex('users_email_key').on(t.email),
    check('users_email_lowercase', sql`${t.email} = lower(${t.email})`),
  ],
);

export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // Every refresh rotates to a new row of the same family; reuse of a rotated row revokes the family.
    familyId: uuid('family_id').notNull(),
    // Null only for a support impersonation: it has no refresh token (it ends at expires_at).
    refreshTokenHash: text('refresh_token_hash'),
    expiresAt: tstz('expires_at').notNull(),
    /** Set when a superadmin acts as this user (admin.impersonate): the session is theirs, not the user's. */
    impersonatorId: uuid('impersonator_id').references((): AnyPgColumn => users.id, { onDelete: 'cascade' }),
    impersonationReason: text('impersonation_reason'),
    /** An impersonation may write only when started with allowWrite. */
    allowWrite: boolean('allow_write').notNull().default(true),
    rotatedAt: tstz('rotated_at'),
    revokedAt: tstz('revoked_at'),
    userAgent: text('user_agent'),
    ip: text('ip'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('sessions_refresh_token_hash_key').on(t.refreshTokenHash),
    index('sessions_family_idx').on(t.familyId),
    index('sessions_user_idx').on(t.userId),
    check(
      'sessions_refresh_or_impersonation',
      sql`${t.refreshTokenHash} is not null or (${t.impersonatorId} is not null and ${t.impersonationReason} is not null)`,
    ),
  ],
);

export const oneTimeTokens = pgTable(
  'one_time_tokens',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: oneTimeTokenPurpose('purpose').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    usedAt: tstz('used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('one_time_tokens_token_hash_key').on(t.tokenHash),
    index('one_time_tokens_user_purpose_idx').on(t.userId, t.purpose),
  ],
);
