// Billing per organization: the plan catalogue, Checkout and the billing portal, seat changes, and
// the receiving end of Stripe webhooks. Processing of webhook events lives in core (billing.ts),
// run by the worker's stripe_event job.
import {
  applySubscription,
  auditBilling,
  badRequest,
  conflict,
  enqueueJob,
  forbidden,
  lockSubscription,
  notFound,
  PAID_STATUSES,
  preconditionFailed,
  publishBillingUpdated,
  publishOrganizationChanged,
  STRIPE_EVENTS_HANDLED,
  type Stripe,
} from '@woopdi/core';
import { organizations, stripeEvents, subscriptions } from '@woopdi/db';
import { and, eq, isNull } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { entitlementsOf, lockOrganizationSeats, seatsUsed } from './entitlements.js';

export const BILLING_DISABLED = 'Billing is not configured on this server (set STRIPE_SECRET_KEY).';

const isPaid = (status: string | undefined) => (PAID_STATUSES as readonly string[]).includes(status ?? '');

function requireStripe(deps: ServiceDeps): Stripe {
  if (!deps.config.stripe || !deps.stripe) throw preconditionFailed(BILLING_DISABLED);
  return deps.stripe;
}

const billingPage = (deps: ServiceDeps, organizationId: string) =>
  `${deps.config.webClientUrl}/organizations/${organizationId}/billing`;

async function liveOrganization(deps: ServiceDeps, organizationId: string) {
  const [org] = await deps.db
    .select()
    .from(organizations)
    .where(and(eq(organizations.id, organizationId), isNull(organizations.deletedAt)));
  if (!org) throw notFound('Organization');
  return org;
}

export function listPlans(deps: ServiceDeps) {
  const enabled = deps.config.stripe !== undefined;
  return {
    enabled,
    plans: Object.values(deps.config.plans).map((plan) => ({
      id: plan.id,
      name: plan.name,
      seats: plan.seats,
      features: plan.features,
      storageQuotaBytes: plan.storageQuotaBytes,
      concurrentTasks: plan.concurrentTasks,
      purchasable: enabled && plan.stripePriceId !== null,
    })),
  };
}

export async function getBilling(deps: ServiceDeps, actor: Membership) {
  const organizationId = actor.organizationId;
  const enabled = deps.config.stripe !== undefined;
  const ent = await entitlementsOf(deps, deps.db, organizationId);
  const used = await seatsUsed(deps.db, organizationId);
  const [sub] = enabled
    ? await deps.db.select().from(subscriptions).where(eq(subscriptions.organizationId, organizationId))
    : [];
  return {
    organizationId,
    enabled,
    plan: ent.plan.id,
    status: sub?.status ?? null,
    seats: {
      used: used.total,
      members: used.members,
      pendingInvitations: used.pendingInvitations,
      allowed: ent.seats,
    },
    features: ent.features,
    currentPeriodEnd: sub?.currentPeriodEnd?.toISOString() ?? null,
    cancelAtPeriodEnd: sub?.cancelAtPeriodEnd ?? false,
    pastDueSince: sub?.pastDueSince?.toISOString() ?? null,
    inGracePeriod: ent.inGracePeriod,
  };
}

/**
 * The organization's Stripe customer, created at its first checkout (never at signup). The
 * idempotency key makes concurrent first checkouts get the same customer from Stripe.
 */
async function ensureCustomer(
  deps: ServiceDeps,
  stripe: Stripe,
  org: typeof organizations.$inferSelect,
  email: string,
) {
  if (org.stripeCustomerId) return org.stripeCustomerId;
  const customer = await stripe.customers.create(
    { name: org.name, email, metadata: { organizationId: org.id } },
    { idempotencyKey: `woopdi-organization-customer-${org.id}` },
  );
  await deps.db
    .update(organizations)
    .set({ stripeCustomerId: customer.id })
    .where(and(eq(organizations.id, org.id), isNull(organizations.stripeCustomerId)));
  await publishOrganizationChanged(deps.bus, org.id); // updatedAt moved: drop cached copies
  const [row] = await deps.db
    .select({ stripeCustomerId: organizations.stripeCustomerId })
    .from(organizations)
    .where(eq(organizations.id, org.id));
  return row?.stripeCustomerId ?? customer.id;
}

export async function startCheckout(
  deps: ServiceDeps,
  actor: Membership,
  input: { plan: 'pro'; seats: number },
  email: string,
) {
  const stripe = requireStripe(deps);
  if (actor.isSolo) {
    throw forbidden(
      'Personal (solo) organizations stay on the free plan: create a team organization to subscribe.',
    );
  }
  const plan = deps.config.plans[input.plan];
  if (!plan.stripePriceId) {
    throw preconditionFailed(
      `The ${plan.name} plan has no Stripe price on this server (set STRIPE_PRICE_PRO).`,
    );
  }
  const org = await liveOrganization(deps, actor.organizationId);
  const [sub] = await deps.db.select().from(subscriptions).where(eq(subscriptions.organizationId, org.id));
  if (sub && isPaid(sub.status)) {
    throw conflict(
      `This organization already has a ${plan.name} subscription (${sub.status}). Change its seats with PUT /api/organizations/${org.id}/billing/seats, or manage it in the billing portal.`,
    );
  }
  const used = await seatsUsed(deps.db, org.id);
  if (input.seats < used.total) {
    throw badRequest(
      `seats: choose at least ${used.total}, the seats in use (${used.members} members, ${used.pendingInvitations} pending invitations).`,
    );
  }
  const customer = await ensureCustomer(deps, stripe, org, email);
  const page = billingPage(deps, org.id);
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer,
    client_reference_id: org.id,
    metadata: { organizationId: org.id },
    subscription_data: { metadata: { organizationId: org.id } },
    line_items: [{ price: plan.stripePriceId, quantity: input.seats }],
    success_url: `${page}?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${page}?checkout=cancelled`,
  });
  if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  await audit(deps.db, {
    organizationId: org.id,
    actorUserId: actor.userId,
    action: 'billing.checkout_started',
    target: { type: 'checkout_session', id: session.id },
    metadata: { plan: plan.id, seats: input.seats },
  });
  return { url: session.url, sessionId: session.id };
}

export async function openPortal(deps: ServiceDeps, actor: Membership) {
  const stripe = requireStripe(deps);
  const org = await liveOrganization(deps, actor.organizationId);
  if (!org.stripeCustomerId) {
    throw preconditionFailed(
      `This organization has no billing account yet: subscribe first with POST /api/organizations/${org.id}/billing/checkout.`,
    );
  }
  const session = await stripe.billingPortal.sessions.create({
    customer: org.stripeCustomerId,
    return_url: billingPage(deps, org.id),
  });
  return { url: session.url };
}

/**
 * Changes the subscription's quantity in Stripe and mirrors the result at once (the webhook that
 * follows finds nothing new). The seat lock is held across the Stripe call, so an invitation cannot
 * take a seat between the usage check and the change.
 */
export async function updateSeats(deps: ServiceDeps, actor: Membership, seats: number) {
  const stripe = requireStripe(deps);
  const organizationId = actor.organizationId;
  const noSubscription = () =>
    preconditionFailed(
      `This organization has no active subscription: start one with POST /api/organizations/${organizationId}/billing/checkout.`,
    );
  const [known] = await deps.db
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.organizationId, organizationId));
  if (!known || !isPaid(known.status)) throw noSubscription();
  const outcome = await deps.db.transaction(async (tx) => {
    // The lock order of the webhook job: the subscription, then the organization.
    await lockSubscription(tx, known.stripeSubscriptionId);
    await lockOrganizationSeats(tx, organizationId);
    const [sub] = await tx
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.organizationId, organizationId));
    if (!sub || !isPaid(sub.status) || sub.stripeSubscriptionId !== known.stripeSubscriptionId)
      throw noSubscription();
    const used = await seatsUsed(tx, organizationId);
    if (seats < used.total) {
      throw badRequest(
        `seats: ${seats} is fewer than the ${used.total} seats in use (${used.members} members, ${used.pendingInvitations} pending invitations). Remove members or revoke invitations first.`,
      );
    }
    const current = await stripe.subscriptions.retrieve(sub.stripeSubscriptionId);
    const items = current.items.data;
    const item = items.find((i) => i.price?.id === sub.priceId) ?? items[0];
    if (!item) throw noSubscription();
    const updated =
      item.quantity === seats
        ? current
        : await stripe.subscriptions.update(current.id, {
            items: [{ id: item.id, quantity: seats }],
            proration_behavior: 'create_prorations',
          });
    const result = await applySubscription(tx, deps.config, organizationId, updated);
    if (result)
      await auditBilling(tx, result, 'billing.seats_changed', { requestedSeats: seats }, actor.userId);
    return result;
  });
  if (outcome) await publishOrganizationChanged(deps.bus, outcome.organizationId);
  if (outcome?.changed) await publishBillingUpdated(deps, outcome);
  return getBilling(deps, actor);
}

/**
 * Checks a webhook's signature against STRIPE_WEBHOOK_SECRET and returns the event. Throws 400
 * for a missing or wrong signature (or a body that is not the raw bytes), 412 when not configured.
 */
export function verifyStripeWebhook(
  deps: ServiceDeps,
  rawBody: unknown,
  signature: string | string[] | undefined,
): Stripe.Event {
  if (!deps.config.stripe || !deps.stripe) throw preconditionFailed(BILLING_DISABLED);
  const secret = deps.config.stripe.webhookSecret;
  if (!secret) {
    throw preconditionFailed(
      'Stripe webhooks are not configured on this server (set STRIPE_WEBHOOK_SECRET).',
    );
  }
  if (typeof signature !== 'string' || signature === '')
    throw badRequest('The Stripe-Signature header is missing.');
  if (!Buffer.isBuffer(rawBody) || rawBody.length === 0) {
    throw badRequest('Expected a Stripe event as a JSON body (Content-Type: application/json).');
  }
  try {
    return deps.stripe.webhooks.constructEvent(rawBody, signature, secret);
  } catch {
    throw badRequest(
      'The Stripe-Signature does not match this payload (check STRIPE_WEBHOOK_SECRET), or it is too old.',
    );
  }
}

const HANDLED = new Set<string>(STRIPE_EVENTS_HANDLED);

/**
 * Stores a verified event once. A new event of a handled type gets a stripe_event job in the same
 * transaction; a redelivery (same id, even concurrent) finds the row and does nothing.
 */
export async function receiveStripeEvent(deps: ServiceDeps, event: Stripe.Event) {
  const handled = HANDLED.has(event.type);
  return deps.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(stripeEvents)
      .values({
        id: event.id,
        type: event.type,
        payload: event as unknown as Record<string, unknown>,
        // Types we do not act on are kept for the record, already done.
        processedAt: handled ? null : new Date(),
      })
      .onConflictDoNothing()
      .returning({ id: stripeEvents.id });
    if (inserted.length === 0) return { duplicate: true };
    if (handled) await enqueueJob(tx, 'stripe_event', { eventId: event.id });
    return { duplicate: false };
  });
}
