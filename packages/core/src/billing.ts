// Mirrors Stripe subscriptions into `subscriptions` and `organizations.plan`. Stripe is the source
// of truth: every change re-reads the subscription from Stripe, never trusts an event's snapshot,
// so out-of-order or duplicated webhook deliveries cannot leave a stale state behind.
import {
  auditLog,
  type Db,
  type DbOrTx,
  memberships,
  organizations,
  stripeEvents,
  subscriptions,
} from '@woopdi/db';
import { and, eq, inArray, ne, notExists, notInArray, sql } from 'drizzle-orm';
import type { EventBus } from './bus.js';
import type { Config } from './config.js';
import { publishOrganizationChanged, userChannel, userEvent } from './events.js';
import type { Logger } from './logger.js';
import type { PlanId } from './plans.js';
import type { Stripe } from './stripe.js';
import { emitWebhookEvent } from './webhooks/emit.js';

export interface BillingDeps {
  db: Db;
  config: Config;
  logger: Logger;
  bus: EventBus;
}

/** Stripe statuses that keep the paid plan (past_due only for the grace period, see entitlements). */
export const PAID_STATUSES = ['active', 'trialing', 'past_due'] as const;
/** Statuses after which a subscription never comes back. */
export const ENDED_STATUSES = ['canceled', 'incomplete_expired'] as const;

export const STRIPE_EVENTS_HANDLED = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
] as const;

export const planOfStatus = (status: string): PlanId =>
  (PAID_STATUSES as readonly string[]).includes(status) ? 'pro' : 'free';

/** What we keep of a Stripe subscription. */
export interface SubscriptionSnapshot {
  stripeSubscriptionId: string;
  stripeCustomerId: string;
  priceId: string;
  plan: PlanId;
  status: string;
  seats: number;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
}

const idOf = (v: string | { id: string } | null | undefined) => (typeof v === 'string' ? v : (v?.id ?? null));

export function snapshotOf(config: Config, sub: Stripe.Subscription): SubscriptionSnapshot {
  const items = sub.items?.data ?? [];
  const proPrice = config.plans.pro.stripePriceId;
  const item = items.find((i) => i.price?.id === proPrice) ?? items[0];
  // Since API version 2025-03-31 the period lives on the item; older payloads have it on the subscription.
  const periodEnd =
    (item as { current_period_end?: number } | undefined)?.current_period_end ??
    (sub as { current_period_end?: number }).current_period_end;
  return {
    stripeSubscriptionId: sub.id,
    stripeCustomerId: idOf(sub.customer as string | { id: string }) ?? '',
    priceId: item?.price?.id ?? '',
    plan: planOfStatus(sub.status),
    status: sub.status,
    seats: item?.quantity ?? 1,
    currentPeriodEnd: typeof periodEnd === 'number' ? new Date(periodEnd * 1000) : null,
    cancelAtPeriodEnd: sub.cancel_at_period_end === true,
  };
}

export interface BillingOutcome {
  organizationId: string;
  organizationDeleted: boolean;
  changed: boolean;
  before: { plan: string; status: string | null; seats: number | null; stripeSubscriptionId: string | null };
  after: SubscriptionSnapshot;
}

const isLive = (status: string) => !(ENDED_STATUSES as readonly string[]).includes(status);

/**
 * Writes `sub` as the organization's subscription and sets its plan, under a lock on the
 * organization row (seat checks of invitations hold the same lock). Returns null when the
 * organization is unknown, or when `sub` is an ended subscription that must not replace the
 * organization's other, live one (an abandoned second checkout, for example).
 */
export async function applySubscription(
  tx: DbOrTx,
  config: Config,
  organizationId: string,
  sub: Stripe.Subscription,
): Promise<BillingOutcome | null> {
  const [org] = await tx
    .select({
      plan: organizations.plan,
      stripeCustomerId: organizations.stripeCustomerId,
      deletedAt: organizations.deletedAt,
    })
    .from(organizations)
    .where(eq(organizations.id, organizationId))
    .for('no key update');
  if (!org) return null;
  const snap = snapshotOf(config, sub);
  const [current] = await tx
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.organizationId, organizationId));
  if (
    current &&
    current.stripeSubscriptionId !== snap.stripeSubscriptionId &&
    isLive(current.status) &&
    !isLive(snap.status)
  ) {
    return null;
  }
  const sameSubscription = current?.stripeSubscriptionId === snap.stripeSubscriptionId;
  const pastDueSince =
    snap.status === 'past_due'
      ? sameSubscription && current?.status === 'past_due' && current.pastDueSince
        ? current.pastDueSince
        : new Date()
      : null;
  const values = {
    stripeCustomerId: snap.stripeCustomerId,
    stripeSubscriptionId: snap.stripeSubscriptionId,
    priceId: snap.priceId,
    plan: snap.plan,
    status: snap.status,
    seats: snap.seats,
    currentPeriodEnd: snap.currentPeriodEnd,
    cancelAtPeriodEnd: snap.cancelAtPeriodEnd,
    pastDueSince,
  };
  await tx
    .insert(subscriptions)
    .values({ organizationId, ...values })
    .onConflictDoUpdate({ target: subscriptions.organizationId, set: values });
  await tx
    .update(organizations)
    .set({
      plan: snap.plan,
      ...(org.stripeCustomerId === null &&
        snap.stripeCustomerId && { stripeCustomerId: snap.stripeCustomerId }),
    })
    .where(eq(organizations.id, organizationId));
  const changed =
    !current ||
    !sameSubscription ||
    org.plan !== snap.plan ||
    current.status !== snap.status ||
    current.seats !== snap.seats ||
    current.priceId !== snap.priceId ||
    current.cancelAtPeriodEnd !== snap.cancelAtPeriodEnd ||
    (current.currentPeriodEnd?.getTime() ?? null) !== (snap.currentPeriodEnd?.getTime() ?? null);
  if (changed && !org.deletedAt) {
    await emitWebhookEvent(tx, organizationId, 'subscription.updated', {
      plan: snap.plan,
      status: snap.status,
      seats: snap.seats,
    });
  }
  return {
    organizationId,
    organizationDeleted: org.deletedAt !== null,
    changed,
    before: {
      plan: org.plan,
      status: current?.status ?? null,
      seats: current?.seats ?? null,
      stripeSubscriptionId: current?.stripeSubscriptionId ?? null,
    },
    after: snap,
  };
}

/** One audit row for a billing change (written by the system unless an actor is given). */
export async function auditBilling(
  tx: DbOrTx,
  outcome: BillingOutcome,
  action: string,
  metadata: Record<string, unknown> = {},
  actorUserId: string | null = null,
) {
  const { after } = outcome;
  await tx.insert(auditLog).values({
    organizationId: outcome.organizationId,
    actorUserId,
    action,
    targetType: 'subscription',
    targetId: after.stripeSubscriptionId,
    metadata: {
      ...metadata,
      plan: after.plan,
      status: after.status,
      seats: after.seats,
      cancelAtPeriodEnd: after.cancelAtPeriodEnd,
      currentPeriodEnd: after.currentPeriodEnd?.toISOString() ?? null,
      previous: outcome.before,
      changed: outcome.changed,
    },
  });
}

/** billing.updated to every ADMIN of the organization (after commit). */
export async function publishBillingUpdated(deps: Pick<BillingDeps, 'db' | 'bus'>, outcome: BillingOutcome) {
  if (outcome.organizationDeleted) return;
  const admins = await deps.db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.organizationId, outcome.organizationId), eq(memberships.role, 'ADMIN')));
  const event = userEvent({
    type: 'billing.updated',
    organizationId: outcome.organizationId,
    plan: outcome.after.plan,
    status: outcome.after.status,
    seats: outcome.after.seats,
  });
  await Promise.all(admins.map((a) => deps.bus.publish(userChannel(a.userId), event)));
}

/**
 * Serialises the work on one Stripe subscription: the last transaction to commit holds the latest
 * read. Take it before the organization row lock (applySubscription takes that one).
 */
export async function lockSubscription(tx: DbOrTx, stripeSubscriptionId: string) {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtext(${`stripe_subscription:${stripeSubscriptionId}`}))`,
  );
}

const isMissing = (error: unknown) => (error as { statusCode?: number })?.statusCode === 404;

/** The subscription as Stripe has it now; null when Stripe no longer knows it. */
async function retrieve(stripe: Stripe, id: string): Promise<Stripe.Subscription | null> {
  try {
    return await stripe.subscriptions.retrieve(id);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

interface EventReference {
  subscriptionId: string | null;
  organizationId: string | null;
}

type Obj = Record<string, unknown>;

/** The subscription (and any organization hint) an event is about, from its stored payload. */
export function eventReference(payload: Obj): EventReference {
  const type = String(payload.type ?? '');
  const object = ((payload.data as Obj | undefined)?.object ?? {}) as Obj;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
  const ref = (v: unknown) => str(v) ?? str((v as Obj | null)?.id);
  const metadataOrg = str((object.metadata as Obj | undefined)?.organizationId);
  if (type === 'checkout.session.completed') {
    return {
      subscriptionId: object.mode === 'subscription' ? ref(object.subscription) : null,
      organizationId: str(object.client_reference_id) ?? metadataOrg,
    };
  }
  if (type.startsWith('customer.subscription.'))
    return { subscriptionId: str(object.id), organizationId: metadataOrg };
  if (type.startsWith('invoice.')) {
    const parent = (object.parent as Obj | undefined)?.subscription_details as Obj | undefined;
    return { subscriptionId: ref(parent?.subscription) ?? ref(object.subscription), organizationId: null };
  }
  return { subscriptionId: null, organizationId: null };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The organization a subscription belongs to: the one whose Stripe customer it is, else the one
 * already mirroring it, else the organization named in its metadata (set by our checkout) — only
 * when that organization has no other Stripe customer.
 */
async function organizationOf(tx: DbOrTx, snap: SubscriptionSnapshot, hints: (string | null)[]) {
  if (snap.stripeCustomerId) {
    const [byCustomer] = await tx
      .select({ id: organizations.id })
      .from(organizations)
      .where(eq(organizations.stripeCustomerId, snap.stripeCustomerId));
    if (byCustomer) return byCustomer.id;
  }
  const [bySubscription] = await tx
    .select({ id: subscriptions.organizationId })
    .from(subscriptions)
    .where(eq(subscriptions.stripeSubscriptionId, snap.stripeSubscriptionId));
  if (bySubscription) return bySubscription.id;
  for (const hint of hints) {
    if (!hint || !UUID.test(hint)) continue;
    const [org] = await tx
      .select({ id: organizations.id, customer: organizations.stripeCustomerId })
      .from(organizations)
      .where(eq(organizations.id, hint));
    if (org && (org.customer === null || org.customer === snap.stripeCustomerId)) return org.id;
  }
  return null;
}

/**
 * The stripe_event job: processes one stored webhook event exactly once (its row is locked and
 * marked processed in the same transaction as the change and its audit row).
 */
export async function processStripeEvent(deps: BillingDeps, stripe: Stripe, eventId: string): Promise<void> {
  const log = deps.logger.child({ stripeEventId: eventId });
  const outcome = await deps.db.transaction(async (tx) => {
    const [row] = await tx.select().from(stripeEvents).where(eq(stripeEvents.id, eventId)).for('update');
    if (!row) {
      log.warn('stripe_event job for an event that was never stored; nothing to do');
      return null;
    }
    if (row.processedAt) return null;
    const done = () =>
      tx.update(stripeEvents).set({ processedAt: new Date() }).where(eq(stripeEvents.id, eventId));
    const ref = eventReference(row.payload);
    if (!ref.subscriptionId) {
      await done();
      return null;
    }
    await lockSubscription(tx, ref.subscriptionId);
    let sub = await retrieve(stripe, ref.subscriptionId);
    if (!sub) {
      // Gone from Stripe altogether: a subscription event's own object, ended, is the best we know.
      const object = (row.payload.data as Obj | undefined)?.object as Stripe.Subscription | undefined;
      if (object?.object !== 'subscription' || object.id !== ref.subscriptionId) {
        log.warn(
          { subscriptionId: ref.subscriptionId },
          'Stripe does not know the subscription of this event; ignored',
        );
        await done();
        return null;
      }
      sub = { ...object, status: 'canceled' };
    }
    const snap = snapshotOf(deps.config, sub);
    const organizationId = await organizationOf(tx, snap, [
      sub.metadata?.organizationId ?? null,
      ref.organizationId,
    ]);
    const result = organizationId ? await applySubscription(tx, deps.config, organizationId, sub) : null;
    if (!organizationId) {
      log.warn(
        { subscriptionId: sub.id, customer: snap.stripeCustomerId },
        'no organization for this Stripe subscription; ignored',
      );
    }
    if (result)
      await auditBilling(tx, result, 'billing.subscription_synced', { eventId, eventType: row.type });
    await done();
    return result;
  });
  if (outcome) {
    // The organization row (plan, updatedAt) is cached by every api instance.
    await publishOrganizationChanged(deps.bus, outcome.organizationId);
    log.info(
      {
        organizationId: outcome.organizationId,
        plan: outcome.after.plan,
        status: outcome.after.status,
        seats: outcome.after.seats,
      },
      'subscription synced from Stripe',
    );
    await publishBillingUpdated(deps, outcome);
  }
}

/** Re-reads one subscription from Stripe and writes it (the api's seat change and the jobs use it). */
export async function syncSubscription(
  deps: BillingDeps,
  stripe: Stripe,
  input: { organizationId: string; subscription: Stripe.Subscription | string },
  audit: {
    action: string;
    metadata?: Record<string, unknown>;
    actorUserId?: string | null;
    onlyWhenChanged?: boolean;
  },
): Promise<BillingOutcome | null> {
  const id = typeof input.subscription === 'string' ? input.subscription : input.subscription.id;
  const outcome = await deps.db.transaction(async (tx) => {
    await lockSubscription(tx, id);
    const sub = typeof input.subscription === 'string' ? await retrieve(stripe, id) : input.subscription;
    if (!sub) return null;
    const result = await applySubscription(tx, deps.config, input.organizationId, sub);
    if (result && (result.changed || !audit.onlyWhenChanged)) {
      await auditBilling(tx, result, audit.action, audit.metadata, audit.actorUserId ?? null);
    }
    return result;
  });
  if (outcome) await publishOrganizationChanged(deps.bus, outcome.organizationId);
  if (outcome?.changed) await publishBillingUpdated(deps, outcome);
  return outcome;
}

/**
 * The nightly billing_reconcile job: re-syncs every subscription that has not ended from Stripe,
 * logging (and auditing) any drift, then puts organizations on a paid plan without a paid
 * subscription back on free. Throws at the end when a subscription could not be checked, so the
 * job is retried and the failure is visible.
 */
export async function reconcileSubscriptions(deps: BillingDeps, stripe: Stripe) {
  const log = deps.logger.child({ job: 'billing_reconcile' });
  const rows = await deps.db
    .select({
      organizationId: subscriptions.organizationId,
      stripeSubscriptionId: subscriptions.stripeSubscriptionId,
    })
    .from(subscriptions)
    .where(notInArray(subscriptions.status, [...ENDED_STATUSES]));
  let drifted = 0;
  const failed: string[] = [];
  for (const row of rows) {
    try {
      const outcome = await syncSubscription(
        deps,
        stripe,
        { organizationId: row.organizationId, subscription: row.stripeSubscriptionId },
        {
          action: 'billing.subscription_reconciled',
          metadata: { reason: 'nightly reconciliation' },
          onlyWhenChanged: true,
        },
      );
      if (outcome?.changed) {
        drifted++;
        log.warn(
          {
            organizationId: row.organizationId,
            subscriptionId: row.stripeSubscriptionId,
            local: outcome.before,
            stripe: outcome.after,
          },
          'billing drift: the local subscription differed from Stripe; re-synced',
        );
      }
    } catch (error) {
      failed.push(row.stripeSubscriptionId);
      log.error(
        { err: error, subscriptionId: row.stripeSubscriptionId },
        'could not reconcile a subscription',
      );
    }
  }
  // A paid plan needs a paid subscription (an organization edited by hand, a lost row).
  const orphaned = await deps.db
    .update(organizations)
    .set({ plan: 'free' })
    .where(
      and(
        ne(organizations.plan, 'free'),
        notExists(
          deps.db
            .select({ one: sql`1` })
            .from(subscriptions)
            .where(
              and(
                eq(subscriptions.organizationId, organizations.id),
                inArray(subscriptions.status, [...PAID_STATUSES]),
              ),
            ),
        ),
      ),
    )
    .returning({ id: organizations.id });
  await Promise.all(orphaned.map((org) => publishOrganizationChanged(deps.bus, org.id)));
  for (const org of orphaned)
    log.warn({ organizationId: org.id }, 'billing drift: paid plan without a paid subscription; set to free');
  log.info(
    { checked: rows.length, drifted: drifted + orphaned.length, failed: failed.length },
    'billing reconciliation finished',
  );
  if (failed.length > 0)
    throw new Error(
      `billing reconciliation could not check ${failed.length} subscription(s): ${failed.join(', ')}`,
    );
  return { checked: rows.length, drifted: drifted + orphaned.length };
}

/** The stripe_cancel_subscription job: ends a deleted organization's subscription at once. */
export async function cancelOrganizationSubscription(
  deps: BillingDeps,
  stripe: Stripe,
  input: { organizationId: string; subscriptionId: string },
) {
  const current = await retrieve(stripe, input.subscriptionId);
  if (!current) return;
  const ended = (ENDED_STATUSES as readonly string[]).includes(current.status)
    ? current
    : await stripe.subscriptions.cancel(input.subscriptionId, {
        invoice_now: false,
        prorate: false,
        cancellation_details: { comment: 'The organization was deleted.' },
      });
  await syncSubscription(
    deps,
    stripe,
    { organizationId: input.organizationId, subscription: ended },
    { action: 'billing.subscription_canceled', metadata: { reason: 'organization deleted' } },
  );
}

/** The organization's Stripe subscription id when it has not ended (the delete lifecycle cancels it). */
export async function liveSubscriptionOf(db: DbOrTx, organizationId: string) {
  const [row] = await db
    .select({ stripeSubscriptionId: subscriptions.stripeSubscriptionId })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.organizationId, organizationId),
        notInArray(subscriptions.status, [...ENDED_STATUSES]),
      ),
    );
  return row?.stripeSubscriptionId ?? null;
}
