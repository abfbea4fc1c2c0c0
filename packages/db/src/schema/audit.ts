import { sql } from 'drizzle-orm';
import { index, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { id, tstz } from './columns.js';
import { organizations } from './organizations.js';
import { users } from './users.js';

/** Append-only: rows are written in the transaction of the change they record, never updated. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: id(),
    organizationId: uuid('organization_id').references(() => organizations.id, { onDelete: 'cascade' }),
    actorUserId: uuid('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    /** The API key (api_keys.id) that acted, when one did; keys are never deleted, so no cascade. */
    actorApiKeyId: uuid('actor_api_key_id'),
    /** The superadmin who acted as actor_user_id (support impersonation), and that session's id. */
    impersonatorUserId: uuid('impersonator_user_id').references(() => users.id, { onDelete: 'set null' }),
    impersonationId: uuid('impersonation_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    at: tstz('at').notNull().defaultNow(),
  },
  (t) => [
    index('audit_log_organization_at_idx').on(t.organizationId, t.at),
    index('audit_log_action_idx').on(t.action),
    // One "support access" entry per organization per impersonation, however many instances race.
    uniqueIndex('audit_log_support_access_key')
      .on(t.impersonationId, t.organizationId)
      .where(sql`action = 'support.access'`),
  ],
);
