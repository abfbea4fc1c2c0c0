// What an organization's plan allows right now: its plan, seats and features, with past_due
// subscriptions keeping paid features for the grace period (BILLING_GRACE_DAYS).
import { type Feature, type Plan, type PlanId, preconditionFailed } from '@woopdi/core';
import { type DbOrTx, organizations, subscriptions } from '@woopdi/db';
import { eq } from 'drizzle-orm';
import type { ServiceDeps } from './deps.js';

export interface Entitlements {
  plan: Plan;
  /** Seats allowed (members + pending invitations may not exceed it). */
  seats: number;
  features: Feature[];
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
  const [row] = await db
    .select({ plan: organizations.plan, sub: subscriptions })
    .from(organizations)
    .leftJoin(subscriptions, eq(subscriptions.organizationId, organizations.id))
    .where(eq(organizations.id, organizationId));
  const free = deps.config.plans.free;
  const planId = (row?.plan ?? 'free') as PlanId;
  const plan = deps.config.plans[planId] ?? free;
  const sub = row?.sub ?? null;
  if (!sub || plan.id === 'free') {
    return { plan: free, seats: free.seats ?? 1, features: free.features, status: sub?.status ?? null, inGracePeriod: false };
  }
  const graceMs = deps.config.billing.graceDays * 24 * 3600_000;
  const inGracePeriod =
    sub.status === 'past_due' && sub.pastDueSince !== null && Date.now() - sub.pastDueSince.getTime() < graceMs;
  const paying = PAID_OK.has(sub.status) || inGracePeriod;
  return {
    plan,
    seats: plan.seats ?? sub.seats,
    features: paying ? plan.features : [],
    status: sub.status,
    inGracePeriod,
  };
}

/** PRECONDITION_FAILED unless the organization's plan (in good standing) includes `feature`. */
export async function assertEntitlement(deps: Pick<ServiceDeps, 'config' | 'db'>, organizationId: string, feature: Feature) {
  const ent = await entitlementsOf(deps, deps.db, organizationId);
  if (ent.features.includes(feature)) return ent;
  if (ent.plan.id !== 'free' && ent.status !== null) {
    throw preconditionFailed(
      `"${feature}" is paused: the subscription is ${ent.status}. Update the payment method in the billing portal (POST /api/organizations/{organizationId}/billing/portal).`,
    );
  }
  throw preconditionFailed(
    `"${feature}" needs the Pro plan. An organization ADMIN can upgrade with POST /api/organizations/{organizationId}/billing/checkout.`,
  );
}
