// billing_reconcile (nightly cron): re-syncs every subscription that has not ended from Stripe and
// logs drift; see core's reconcileSubscriptions.
import { reconcileSubscriptions } from '@woopdi/core';
import { defineTask, requireStripe } from './define.js';

export const billingReconcile = defineTask('billing_reconcile', async (_payload, ctx) => {
  await reconcileSubscriptions(ctx, requireStripe(ctx));
});
