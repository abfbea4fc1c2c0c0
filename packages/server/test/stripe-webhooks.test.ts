// Billing end to end: REST calls to the real server, Stripe's side played by a local server through
// the real SDK, webhooks signed offline and POSTed to /webhooks/stripe, and the real worker
// processing the stripe_event and stripe_cancel_subscription jobs.
import { type FakeStripe, startFakeStripe } from '@woopdi/api/testing';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

const WEBHOOK_SECRET = 'whsec_test_server';
const PRICE = 'price_pro_server';
const BILLING_ENV = {
  STRIPE_SECRET_KEY: 'sk_test_server',
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_PRICE_PRO: PRICE,
  PLAN_FREE_SEATS: '3',
};

let stripe: FakeStripe;
let server: TestServer;
let worker: WorkerHandle;
beforeAll(async () => {
  stripe = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET });
  server = await startTestServer(BILLING_ENV, { stripe: stripe.client });
  worker = await startWorker({ ...server.deps, pollInterval: 50 });
});
afterAll(async () => {
  await worker?.stop();
  await server?.close();
  await stripe?.close();
});

async function waitFor<T>(
  check: () => Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const api = (path: string) => `${server.url}/api${path}`;

async function team() {
  const signup = await call<{ tokens: { accessToken: string } }>(api('/auth/signup'), {
    body: { email: uniqueEmail('owner'), password: PASSWORD },
  });
  const token = signup.body.tokens.accessToken;
  const org = await call<{ id: string }>(api('/organizations/create-organization'), {
    token,
    body: { name: 'Webhook Co' },
  });
  return { token, organizationId: org.body.id };
}

const postEvent = (payload: string, headers: Record<string, string>) =>
  call<{ received?: boolean; duplicate?: boolean; code?: string; message?: string }>(
    `${server.url}/webhooks/stripe`,
    {
      method: 'POST',
      body: payload,
      headers: { 'content-type': 'application/json', ...headers },
    },
  );

const deliver = (type: string, object: object, options: { id?: string } = {}) => {
  const signed = stripe.signedEvent(type, object as Record<string, unknown>, options);
  return postEvent(signed.payload, { 'stripe-signature': signed.signature }).then((res) => ({
    ...res,
    id: signed.id,
  }));
};

const billingOf = (t: { token: string; organizationId: string }) =>
  call<{ plan: string; status: string | null; seats: { allowed: number }; cancelAtPeriodEnd: boolean }>(
    api(`/organizations/${t.organizationId}/billing`),
    { token: t.token },
  ).then((r) => r.body);

const eventRows = (eventId: string) =>
  server.deps.sql<{ id: string; type: string; processed_at: Date | null }[]>`
    select id, type, processed_at from stripe_events where id = ${eventId}`;

const processed = async (eventId: string) => (await eventRows(eventId)).find((r) => r.processed_at !== null);

const syncAudits = (organizationId: string) =>
  server.deps.sql`
    select id from audit_log
    where organization_id = ${organizationId} and action = 'billing.subscription_synced'`;

async function checkout(t: { token: string; organizationId: string }, seats: number) {
  const res = await call<{ url: string; sessionId: string }>(
    api(`/organizations/${t.organizationId}/billing/checkout`),
    {
      token: t.token,
      body: { plan: 'pro', seats },
    },
  );
  expect(res.status).toBe(200);
  return res.body;
}

describe('POST /webhooks/stripe', () => {
  it('checkout → checkout.session.completed → the worker makes the subscription active, plan pro, seats the quantity', async () => {
    const t = await team();
    expect(await billingOf(t)).toMatchObject({ plan: 'free', status: null, seats: { allowed: 3 } });
    const session = await checkout(t, 5);
    expect(session.url).toMatch(/^https:\/\/checkout\.stripe\.test\//);
    stripe.completeCheckout(session.sessionId);

    const res = await deliver('checkout.session.completed', {
      ...stripe.sessions.get(session.sessionId),
      object: 'checkout.session',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, duplicate: false });
    await waitFor(() => processed(res.id), 'the stripe_event job');
    expect(await billingOf(t)).toMatchObject({ plan: 'pro', status: 'active', seats: { allowed: 5 } });

    const portal = await call<{ url: string }>(api(`/organizations/${t.organizationId}/billing/portal`), {
      token: t.token,
      method: 'POST',
    });
    expect(portal.status).toBe(200);
    expect(portal.body.url).toMatch(/^https:\/\/billing\.stripe\.test\//);
  });

  it('the same event delivered 100 times (50 at once, then 50 in a row) is processed exactly once', async () => {
    const t = await team();
    const session = await checkout(t, 3);
    const sub = stripe.completeCheckout(session.sessionId);
    const signed = stripe.signedEvent(
      'customer.subscription.created',
      sub as unknown as Record<string, unknown>,
    );
    const send = () => postEvent(signed.payload, { 'stripe-signature': signed.signature });

    const answers = await Promise.all(Array.from({ length: 50 }, send));
    for (let i = 0; i < 50; i++) answers.push(await send());
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);

    await waitFor(() => processed(signed.id), 'the stripe_event job');
    // Give a second job, if there were one, the time to run.
    await new Promise((r) => setTimeout(r, 300));
    expect(await eventRows(signed.id)).toHaveLength(1);
    expect(stripe.requestsTo('GET', `/v1/subscriptions/${sub.id}`)).toHaveLength(1);
    expect(await syncAudits(t.organizationId)).toHaveLength(1);
    expect(await billingOf(t)).toMatchObject({ plan: 'pro', seats: { allowed: 3 } });
  });

  it('customer.subscription.updated before .created: the final state is what Stripe has', async () => {
    const t = await team();
    const session = await checkout(t, 4);
    const sub = stripe.completeCheckout(session.sessionId);
    const created = structuredClone({ ...sub, status: 'incomplete' });
    stripe.setSubscription(sub.id, { quantity: 8, cancel_at_period_end: true });
    const updated = structuredClone(stripe.subscriptions.get(sub.id)!);

    const first = await deliver('customer.subscription.updated', updated);
    await waitFor(() => processed(first.id), 'the updated event');
    const second = await deliver('customer.subscription.created', created);
    await waitFor(() => processed(second.id), 'the created event');

    expect(await billingOf(t)).toMatchObject({
      plan: 'pro',
      status: 'active',
      cancelAtPeriodEnd: true,
      seats: { allowed: 8 },
    });
  });

  it('refuses a bad, missing or foreign signature with 400 and stores nothing', async () => {
    const signed = stripe.signedEvent('invoice.paid', { id: 'in_sig', object: 'invoice' });
    const foreign = stripe.signedEvent(
      'invoice.paid',
      { id: 'in_sig', object: 'invoice' },
      { secret: 'whsec_someone_else' },
    );
    const attempts = [
      postEvent(signed.payload, {}),
      postEvent(signed.payload, { 'stripe-signature': 't=1700000000,v1=00ff' }),
      postEvent(signed.payload.replace('in_sig', 'in_forged'), { 'stripe-signature': signed.signature }),
      postEvent(foreign.payload, { 'stripe-signature': foreign.signature }),
      // Not JSON as far as the content type goes: the raw body is never read.
      call(`${server.url}/webhooks/stripe`, {
        method: 'POST',
        body: signed.payload,
        headers: { 'content-type': 'text/plain', 'stripe-signature': signed.signature },
      }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'BAD_REQUEST' });
    }
    for (const id of [signed.id, foreign.id]) {
      expect(await eventRows(id)).toHaveLength(0);
    }
  });

  it('answers 413 for a body over 256kb and stores nothing', async () => {
    const signed = stripe.signedEvent('invoice.paid', {
      id: 'in_big',
      object: 'invoice',
      padding: 'x'.repeat(300_000),
    });
    const res = await postEvent(signed.payload, { 'stripe-signature': signed.signature });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('256kb') });
    expect(await eventRows(signed.id)).toHaveLength(0);
  });

  it('keeps an event of a type it does not act on, already done, without a job', async () => {
    const res = await deliver('customer.created', { id: 'cus_other', object: 'customer' });
    expect(res.status).toBe(200);
    const [row] = await eventRows(res.id);
    expect(row).toMatchObject({ type: 'customer.created' });
    expect(row!.processed_at).not.toBeNull();
  });
});

describe('lifecycle', () => {
  it('deleting the organization cancels its Stripe subscription through the worker', async () => {
    const t = await team();
    const session = await checkout(t, 3);
    const sub = stripe.completeCheckout(session.sessionId);
    const res = await deliver('checkout.session.completed', {
      ...stripe.sessions.get(session.sessionId),
      object: 'checkout.session',
    });
    await waitFor(() => processed(res.id), 'the stripe_event job');

    const deleted = await call(api(`/organizations/${t.organizationId}`), {
      token: t.token,
      method: 'DELETE',
    });
    expect(deleted.status).toBe(200);
    await waitFor(
      async () => stripe.requestsTo('DELETE', `/v1/subscriptions/${sub.id}`).length === 1,
      'the cancellation',
    );
    const row = await waitFor(async () => {
      const [r] = await server.deps.sql<{ status: string; plan: string }[]>`
        select status, plan from subscriptions where organization_id = ${t.organizationId}`;
      return r?.status === 'canceled' ? r : undefined;
    }, 'the canceled subscription');
    expect(row.plan).toBe('free');
  });
});

describe('without STRIPE_SECRET_KEY', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer();
  });
  afterAll(() => off?.close());

  it('reports billing disabled and answers billing mutations and webhooks 412', async () => {
    const settings = await call<{ billing: { enabled: boolean } }>(`${off.url}/api/system-settings`);
    expect(settings.body.billing.enabled).toBe(false);
    const plans = await call<{ enabled: boolean }>(`${off.url}/api/billing/plans`);
    expect(plans.status).toBe(200);
    expect(plans.body.enabled).toBe(false);

    const signup = await call<{ tokens: { accessToken: string } }>(`${off.url}/api/auth/signup`, {
      body: { email: uniqueEmail('off'), password: PASSWORD },
    });
    const token = signup.body.tokens.accessToken;
    const org = await call<{ id: string }>(`${off.url}/api/organizations/create-organization`, {
      token,
      body: { name: 'Unbilled' },
    });
    const checkoutRes = await call(`${off.url}/api/organizations/${org.body.id}/billing/checkout`, {
      token,
      body: { plan: 'pro', seats: 3 },
    });
    expect(checkoutRes.status).toBe(412);
    expect(checkoutRes.body).toMatchObject({
      message: 'Billing is not configured on this server (set STRIPE_SECRET_KEY).',
    });
    const seatsRes = await call(`${off.url}/api/organizations/${org.body.id}/billing/seats`, {
      token,
      method: 'PUT',
      body: { seats: 3 },
    });
    expect(seatsRes.status).toBe(412);

    const signed = stripe.signedEvent('invoice.paid', { id: 'in_off', object: 'invoice' });
    const webhook = await call(`${off.url}/webhooks/stripe`, {
      method: 'POST',
      body: signed.payload,
      headers: { 'content-type': 'application/json', 'stripe-signature': signed.signature },
    });
    expect(webhook.status).toBe(412);
  });
});
