import { bigint, index, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz } from './columns.js';
import { users } from './users.js';

/**
 * A user's TOTP secret, sealed with ENCRYPTION_KEY. A row with enabled_at null is an enrollment
 * waiting for its first code (auth.twoFactor.confirm); 2FA is on once enabled_at is set.
 */
export const userTwoFactor = pgTable('user_two_factor', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  sealedSecret: text('sealed_secret').notNull(),
  enabledAt: tstz('enabled_at'),
  // The last accepted time step (unix seconds / 30): a code of that step or an earlier one is
  // refused, so a code works once even within its window.
  lastUsedStep: bigint('last_used_step', { mode: 'number' }),
  createdAt: createdAt(),
});

/** Recovery codes, stored as SHA-256 (they are high-entropy); a used one is gone. */
export const twoFactorRecoveryCodes = pgTable(
  'two_factor_recovery_codes',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    usedAt: tstz('used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('two_factor_recovery_codes_user_hash_key').on(t.userId, t.codeHash),
    index('two_factor_recovery_codes_user_idx').on(t.userId),
  ],
);

/**
 * The second step of a sign-in: issued when the password (or an OAuth sign-in) was right and the
 * user has 2FA on; short-lived and single use (stored as SHA-256).
 */
export const twoFactorChallenges = pgTable(
  'two_factor_challenges',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    usedAt: tstz('used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('two_factor_challenges_token_hash_key').on(t.tokenHash),
    index('two_factor_challenges_user_idx').on(t.userId),
  ],
);
