// POST /webhooks/stripe: the raw body (its signature covers the exact bytes), verified, stored once
// and handed to the stripe_event job. Stripe retries anything but a 2xx, so a duplicate answers 200.
import { type ApiDeps, appErrorOf, receiveStripeEvent, verifyStripeWebhook } from '@woopdi/api';
import express, { type ErrorRequestHandler, Router } from 'express';
import { httpStatusOf } from './errors.js';

const LIMIT = '256kb';

export function stripeWebhookRouter(deps: ApiDeps): Router {
  const router = Router();
  router.post(
    '/webhooks/stripe',
    express.raw({ type: 'application/json', limit: LIMIT }),
    async (req, res) => {
      let event: ReturnType<typeof verifyStripeWebhook>;
      try {
        event = verifyStripeWebhook(deps, req.body, req.headers['stripe-signature']);
      } catch (error) {
        const appError = appErrorOf(error);
        if (!appError) throw error;
        req.log?.warn({ reason: appError.message }, 'Stripe webhook refused');
        res
          .status(httpStatusOf[appError.code] ?? 400)
          .json({ code: appError.code, message: appError.message });
        return;
      }
      const { duplicate } = await receiveStripeEvent(deps, event);
      res.json({ received: true, duplicate });
    },
  );
  const tooLarge: ErrorRequestHandler = (err, _req, res, next) => {
    if (err?.status !== 413) return next(err);
    res.status(413).json({ code: 'PAYLOAD_TOO_LARGE', message: `A Stripe event body is at most ${LIMIT}.` });
  };
  router.use(tooLarge);
  return router;
}
