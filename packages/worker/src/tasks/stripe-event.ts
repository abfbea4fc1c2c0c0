// stripe_event: processes one stored webhook event (stripe_events row) exactly once. The handler
// re-reads the subscription from Stripe; a Stripe error throws, so graphile-worker retries.
import { processStripeEvent } from '@woopdi/core';
import { defineTask, requireStripe } from './define.js';

export const stripeEvent = defineTask('stripe_event', async ({ eventId }, ctx) => {
  await processStripeEvent(ctx, requireStripe(ctx), eventId);
});
