// The one place a Stripe client is built. The api (checkout, portal, seats, webhook verification)
// and the worker (event processing, reconciliation, cancellation) each receive one.
import { createRequire } from 'node:module';
import type { Stripe } from 'stripe';

export type { Stripe };

// The SDK is loaded on the first createStripe(): a server without STRIPE_SECRET_KEY never pays for it.
const require = createRequire(import.meta.url);

/** Where the client talks to: Stripe by default; tests point it at a local server. */
export interface StripeEndpoint {
  host: string;
  port: number;
  protocol: 'http' | 'https';
}

export function createStripe(settings: { secretKey: string }, overrides?: Partial<StripeEndpoint>): Stripe {
  const StripeClient = require('stripe') as typeof Stripe;
  return new StripeClient(settings.secretKey, {
    // Retries are safe (the SDK sends idempotency keys on POSTs) but pointless against a test server.
    maxNetworkRetries: overrides ? 0 : 2,
    timeout: 20_000,
    telemetry: false,
    appInfo: { name: 'Woopdi' },
    ...overrides,
  });
}
