import { uuid } from '@woopdi/core';
import { z } from 'zod';
import { isoDate } from '../schemas.js';
import * as billing from '../services/billing.js';
import { orgProcedure, publicProcedure, router } from '../trpc.js';

const tags = ['billing'];
const organizationId = uuid();
const seats = z.number().int().min(1).max(10_000);
const DISABLED = 'Without STRIPE_SECRET_KEY on the server: 412 "Billing is not configured".';

const billingSummary = z.object({
  organizationId: uuid(),
  enabled: z.boolean(),
  plan: z.enum(['free', 'pro']),
  status: z.string().nullable().describe("Stripe's subscription status, or null without a subscription"),
  seats: z.object({
    used: z.number().int().describe('members + pending invitations'),
    members: z.number().int(),
    pendingInvitations: z.number().int(),
    allowed: z.number().int(),
  }),
  features: z.array(z.string()),
  currentPeriodEnd: isoDate.nullable(),
  cancelAtPeriodEnd: z.boolean(),
  pastDueSince: isoDate.nullable(),
  inGracePeriod: z.boolean(),
});

export const billingRouter = router({
  plans: publicProcedure
    .meta({
      configOnly: true,
      openapi: {
        method: 'GET',
        path: '/billing/plans',
        tags,
        protect: false,
        summary: 'The plans and what each includes',
        description:
          'Public. `seats: null` means the seats are the subscription quantity. `purchasable` is false for the free plan, and for every plan while billing is disabled (`enabled: false`).',
      },
    })
    .input(z.void())
    .output(
      z.object({
        enabled: z.boolean(),
        plans: z.array(
          z.object({
            id: z.enum(['free', 'pro']),
            name: z.string(),
            seats: z.number().int().nullable(),
            features: z.array(z.string()),
            storageQuotaBytes: z.number().int(),
            concurrentTasks: z
              .number()
              .int()
              .describe('Tasks an organization may have queued or running at once'),
            purchasable: z.boolean(),
          }),
        ),
      }),
    )
    .query(({ ctx }) => billing.listPlans(ctx)),

  get: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/billing',
        tags,
        summary: "The organization's plan, subscription and seats",
        description:
          'Organization ADMINs. Seats used count members and pending invitations. A past_due subscription keeps paid features for BILLING_GRACE_DAYS (`inGracePeriod`). With billing disabled every organization is on free (`enabled: false`).',
      },
    })
    .input(z.object({ organizationId }))
    .output(billingSummary)
    .query(({ ctx }) => billing.getBilling(ctx, ctx.membership)),

  checkout: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/billing/checkout',
        tags,
        summary: 'Start a Stripe Checkout for a paid plan',
        description: `Organization ADMINs of team organizations (403 for personal ones). Returns the Stripe Checkout URL to send the browser to; the plan changes when Stripe confirms it through the webhook. \`seats\` must cover the seats in use (400). 409 when the organization already has a subscription: change seats or use the portal. ${DISABLED}`,
      },
    })
    .input(z.object({ organizationId, plan: z.enum(['pro']).default('pro'), seats }))
    .output(z.object({ url: z.string(), sessionId: z.string() }))
    .mutation(({ ctx, input }) =>
      billing.startCheckout(ctx, ctx.membership, { plan: input.plan, seats: input.seats }, ctx.session.email),
    ),

  portal: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/billing/portal',
        tags,
        summary: 'Open the Stripe billing portal',
        description: `Organization ADMINs. Returns a Stripe billing portal URL (payment method, invoices, cancellation). 412 before the first checkout. ${DISABLED}`,
      },
    })
    .input(z.object({ organizationId }))
    .output(z.object({ url: z.string() }))
    .mutation(({ ctx }) => billing.openPortal(ctx, ctx.membership)),

  updateSeats: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/organizations/{organizationId}/billing/seats',
        tags,
        summary: "Change the subscription's seats",
        description: `Organization ADMINs. Sets the subscription quantity in Stripe (prorated) and returns the updated billing. 400 below the seats in use (members + pending invitations); 412 without an active subscription. ${DISABLED}`,
      },
    })
    .input(z.object({ organizationId, seats }))
    .output(billingSummary)
    .mutation(({ ctx, input }) => billing.updateSeats(ctx, ctx.membership, input.seats)),
});
