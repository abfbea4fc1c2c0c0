// The one place a Stripe client is built. The api (checkout, portal, seats, webhook verification)
// and the worker (event processing, reconciliation, cancellation) each receive one.
import { Stripe } from 'stripe';

export { Stripe };

/** Where the client talks to: Stripe by default; tests point it at a local server. */
export interface StripeEndpoint {
  host: string;
  port: number;
  protocol: 'http' | 'https';
}

export function createStripe(settings: { secretKey: string }, overrides?: Partial<StripeEndpoint>): Stripe {
  return new Stripe(settings.secretKey, {
    // Retries are safe (the SDK sends idempotency keys on POSTs) but pointless against a test server.
    maxNetworkRetries: overrides ? 0 : 2,
    timeout: 20_000,
    telemetry: false,
    appInfo: { name: 'Woopdi' },
    ...overrides,
  });
}
