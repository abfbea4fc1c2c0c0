import { sql } from 'drizzle-orm';
import { index, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz } from './columns.js';
import { orgRole } from './enums.js';
import { organizations } from './organizations.js';
import { users } from './users.js';

/**
 * Organization API keys (`wpd_<keyId>_<secret>`): machine access for a tenant's own backend. Only
 * an HMAC of the secret is stored; a key is revoked, never deleted, so the audit log can name it.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    /** The public half of the key (16 hex characters): finds the row, shows in lists and logs. */
    keyId: text('key_id').notNull(),
    name: text('name').notNull(),
    /** HMAC-SHA256 of the secret half under the server's API key hash secret, hex. */
    secretHash: text('secret_hash').notNull(),
    role: orgRole('role').notNull(),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: tstz('expires_at'),
    lastUsedAt: tstz('last_used_at'),
    revokedAt: tstz('revoked_at'),
    revokedBy: uuid('revoked_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [
    uniqueIndex('api_keys_key_id_key').on(t.keyId),
    index('api_keys_organization_idx').on(t.organizationId, t.createdAt),
    index('api_keys_live_idx').on(t.organizationId).where(sql`${t.revokedAt} is null`),
  ],
);
