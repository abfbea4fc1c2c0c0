// What an organization's plan allows right now: its plan, seats and features, with past_due
// subscriptions keeping paid features for the grace period (BILLING_GRACE_DAYS).
import { type Feature, type Plan, type PlanId, preconditionFailed } from '@woopdi/core';
import { type DbOrTx, invitations, memberships, organizations, subscriptions } from '@woopdi/db';
import { and, count, eq, gt } from 'drizzle-orm';
import type { ServiceDeps } from './deps.js';

export interface Entitlements {
  plan: Plan;
  /** Seats allowed (members + pending invitations may not exceed it). */
  seats: number;
  features: Feature[];
  /** Tasks queued or running at once; a subscription out of good standing gets the free plan's. */
  concurrentTasks: number;
  /** Stripe status, or null on the free plan. */
  status: string | null;
  inGracePeriod: boolean;
}

const PAID_OK = new Set(['active', 'trialing']);

export async function entitlementsOf(
  deps: Pick<ServiceDeps, 'config'>,
  db: DbOrTx,
  organizationId: string,
): Promise<Entitlements> {
  const free = deps.config.plans.free;
  const freeEntitlements = (status: string | null): Entitlements => ({
    plan: free,
    seats: free.seats ?? 1,
    features: free.features,
    concurrentTasks: free.concurrentTasks,
    status,
    inGracePeriod: false,
  });
  // Without Stripe nothing can be paid for: every organization is on free, whatever its rows say.
  if (!deps.config.stripe) return freeEntitlements(null);
  const [row] = await db
    .select({ plan: organizations.plan, sub: subscriptions })
    .from(organizations)
    .leftJoin(subscriptions, eq(subscriptions.organizationId, organizations.id))
    .where(eq(organizations.id, organizationId));
  const planId = (row?.plan ?? 'free') as PlanId;
  const plan = deps.config.plans[planId] ?? free;
  const sub = row?.sub ?? null;
  if (!sub || plan.id === 'free') return freeEntitlements(sub?.status ?? null);
  const graceMs = deps.config.billing.graceDays * 24 * 3600_000;
  const inGracePeriod =
    sub.status === 'past_due' &&
    sub.pastDueSince !== null &&
    Date.now() - sub.pastDueSince.getTime() < graceMs;
  const paying = PAID_OK.has(sub.status) || inGracePeriod;
  return {
    plan,
    seats: plan.seats ?? sub.seats,
    features: paying ? plan.features : [],
    concurrentTasks: paying ? plan.concurrentTasks : free.concurrentTasks,
    status: sub.status,
    inGracePeriod,
  };
}

/** PRECONDITION_FAILED unless the organization's plan (in good standing) includes `feature`. */
export async function assertEntitlement(
  deps: Pick<ServiceDeps, 'config' | 'db'>,
  organizationId: string,
  feature: Feature,
) {
  const ent = await entitlementsOf(deps, deps.db, organizationId);
  assertFeature(deps, ent, organizationId, feature);
  return ent;
}

/** The same check on entitlements already loaded (tasks.start reads them once for several limits). */
export function assertFeature(
  deps: Pick<ServiceDeps, 'config'>,
  ent: Entitlements,
  organizationId: string,
  feature: Feature,
) {
  if (ent.features.includes(feature)) return;
  if (ent.plan.id !== 'free' && ent.status !== null) {
    throw preconditionFailed(
      `"${feature}" is paused: the subscription is ${ent.status} and its ${deps.config.billing.graceDays}-day grace period is over. An organization ADMIN can update the payment method in the billing portal (POST /api/organizations/${organizationId}/billing/portal).`,
    );
  }
  throw preconditionFailed(
    `"${feature}" needs the Pro plan. An organization ADMIN can upgrade with POST /api/organizations/${organizationId}/billing/checkout.`,
  );
}

/** Seats in use: members plus pending invitations that have not expired. */
export async function seatsUsed(db: DbOrTx, organizationId: string) {
  const [members] = await db
    .select({ n: count() })
    .from(memberships)
    .where(eq(memberships.organizationId, organizationId));
  const [pending] = await db
    .select({ n: count() })
    .from(invitations)
    .where(
      and(
        eq(invitations.organizationId, organizationId),
        eq(invitations.status, 'pending'),
        gt(invitations.expiresAt, new Date()),
      ),
    );
  return {
    members: members?.n ?? 0,
    pendingInvitations: pending?.n ?? 0,
    total: (members?.n ?? 0) + (pending?.n ?? 0),
  };
}

/**
 * Takes the organization row lock that seat changes share (invitations, acceptance, the Stripe
 * sync and seat updates), so two concurrent invitations cannot both take the last seat. Call it
 * first in the transaction: the organization before any invitation row keeps one lock order.
 */
export async function lockOrganizationSeats(tx: DbOrTx, organizationId: string) {
  await tx
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.id, organizationId))
    .for('no key update');
}

/**
 * PRECONDITION_FAILED when one more seat would exceed the plan. `adding` is what takes the seat:
 * a new invitation counts against members + pending invitations; accepting an invitation (whose
 * seat was counted when it was sent) only needs the members to fit.
 */
export async function assertSeatAvailable(
  deps: Pick<ServiceDeps, 'config'>,
  tx: DbOrTx,
  organizationId: string,
  adding: 'invitation' | 'member',
) {
  const ent = await entitlementsOf(deps, tx, organizationId);
  const used = await seatsUsed(tx, organizationId);
  const taken = adding === 'invitation' ? used.total : used.members;
  if (taken + 1 <= ent.seats) return;
  const upgrade = !deps.config.stripe
    ? 'Billing is not configured on this server, so every organization is on Free: its operator can raise PLAN_FREE_SEATS'
    : ent.plan.id === 'free'
      ? `An organization ADMIN can upgrade to Pro with POST /api/organizations/${organizationId}/billing/checkout`
      : `An organization ADMIN can add seats with PUT /api/organizations/${organizationId}/billing/seats`;
  throw preconditionFailed(
    `The ${ent.plan.name} plan of this organization allows ${ent.seats} seats and ${taken} are taken (${used.members} members, ${used.pendingInvitations} pending invitations). ${upgrade}, or remove a member or revoke a pending invitation.`,
  );
}
