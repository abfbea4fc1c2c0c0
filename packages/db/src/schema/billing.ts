import { boolean, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns.js';
import { organizations } from './organizations.js';

/** One Stripe subscription per organization, mirrored from Stripe (the source of truth). */
export const subscriptions = pgTable(
  'subscriptions',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    stripeCustomerId: text('stripe_customer_id').notNull(),
    stripeSubscriptionId: text('stripe_subscription_id').notNull(),
    priceId: text('price_id').notNull(),
    plan: text('plan').notNull(),
    /** Stripe's status: active, trialing, past_due, canceled, unpaid, incomplete, … */
    status: text('status').notNull(),
    seats: integer('seats').notNull().default(1),
    currentPeriodEnd: tstz('current_period_end'),
    cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull().default(false),
    /** When the subscription last entered past_due; the grace period counts from here. */
    pastDueSince: tstz('past_due_since'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('subscriptions_organization_key').on(t.organizationId),
    uniqueIndex('subscriptions_stripe_subscription_key').on(t.stripeSubscriptionId),
  ],
);

/** Webhook idempotency: an event id is stored once; a redelivery finds it and does nothing. */
export const stripeEvents = pgTable(
  'stripe_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    receivedAt: tstz('received_at').notNull().defaultNow(),
    processedAt: tstz('processed_at'),
  },
  (t) => [index('stripe_events_type_idx').on(t.type)],
);
