import { bigint, index, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns.js';
import { assetStatus, orgRole } from './enums.js';
import { organizations } from './organizations.js';
import { users } from './users.js';

export const assets = pgTable(
  'assets',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    uploadedBy: uuid('uploaded_by').references(() => users.id, { onDelete: 'set null' }),
    /** Object key in the storage driver, always under orgs/{organizationId}/. */
    storageKey: text('storage_key').notNull(),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    /** SHA-256 of the stored bytes, computed by the server (the client is not trusted). */
    checksum: text('checksum'),
    /** upload | ai_generation | export */
    source: text('source').notNull().default('upload'),
    status: assetStatus('status').notNull().default('pending'),
    meta: jsonb('meta').$type<Record<string, unknown>>().notNull().default({}),
    /**
     * The lowest organization role that may see the file (list, get, download, delete); null: any
     * member. An org_export asset holds what only its kind's role may read (members' emails, say).
     */
    minReadRole: orgRole('min_read_role'),
    completedAt: tstz('completed_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('assets_storage_key_key').on(t.storageKey),
    index('assets_organization_created_idx').on(t.organizationId, t.createdAt),
    index('assets_status_created_idx').on(t.status, t.createdAt),
  ],
);

/** An organization's own API tokens (e.g. its Replicate token), sealed with AES-256-GCM. */
export const organizationSecrets = pgTable(
  'organization_secrets',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** "v1.<keyId>.<iv>.<tag>.<ciphertext>" (core's seal). */
    sealedValue: text('sealed_value').notNull(),
    keyId: text('key_id').notNull(),
    last4: text('last4').notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('organization_secrets_org_name_key').on(t.organizationId, t.name)],
);
