// stripe_cancel_subscription: ends a deleted organization's subscription in Stripe. Enqueued by the
// delete transaction, so a Stripe outage delays the cancellation (retried) but never the delete.
import { cancelOrganizationSubscription } from '@woopdi/core';
import { defineTask, requireStripe } from './define.js';

export const stripeCancelSubscription = defineTask('stripe_cancel_subscription', async (payload, ctx) => {
  await cancelOrganizationSubscription(ctx, requireStripe(ctx), payload);
});
