// webhook_deliver: one attempt of an outbound webhook delivery; it schedules its own retries (the
// job's graphile retries only cover the job itself failing, e.g. the database being down).
import { deliverWebhook } from '../webhooks/deliver.js';
import { defineTask } from './define.js';

export const webhookDeliver = defineTask('webhook_deliver', async ({ deliveryId }, ctx) => {
  await deliverWebhook(ctx, deliveryId);
});
