import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns.js';
import { organizations } from './organizations.js';
import { users } from './users.js';

/** An organization's outbound webhook endpoint (Standard Webhooks). */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event types it wants; empty: every type. */
    eventTypes: text('event_types').array().notNull().default(sql`'{}'::text[]`),
    enabled: boolean('enabled').notNull().default(true),
    /** The signing secret (`whsec_…`), sealed with ENCRYPTION_KEY: it must be read back to sign. */
    sealedSecret: text('sealed_secret').notNull(),
    /** The secret before the last rotation: still signs alongside the new one until it expires. */
    sealedPreviousSecret: text('sealed_previous_secret'),
    previousSecretExpiresAt: tstz('previous_secret_expires_at'),
    /** Since when every attempt has failed (null after a success); past the period it is disabled. */
    failingSince: tstz('failing_since'),
    disabledAt: tstz('disabled_at'),
    disabledReason: text('disabled_reason'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('webhook_endpoints_organization_idx').on(t.organizationId)],
);

/** One event for one endpoint: the message (its id is the `webhook-id` of every attempt). */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    eventType: text('event_type').notNull(),
    /** The JSON body exactly as sent (and signed). */
    body: text('body').notNull(),
    /** pending (an attempt is due), succeeded, failed (retries exhausted or endpoint disabled). */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    createdAt: createdAt(),
    deliveredAt: tstz('delivered_at'),
  },
  (t) => [index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt)],
);

/** Each try of a delivery: what the receiver answered (or why it could not be reached). */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: id(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    at: tstz('at').notNull().defaultNow(),
    statusCode: integer('status_code'),
    durationMs: integer('duration_ms').notNull(),
    /** timeout, refused target, connection error…; null for an HTTP answer. */
    error: text('error'),
    /** The first bytes of the response body. */
    responseExcerpt: text('response_excerpt'),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.at)],
);
