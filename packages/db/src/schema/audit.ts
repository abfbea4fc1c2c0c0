import { index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
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
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    at: tstz('at').notNull().defaultNow(),
  },
  (t) => [
    index('audit_log_organization_at_idx').on(t.organizationId, t.at),
    index('audit_log_action_idx').on(t.action),
  ],
);
