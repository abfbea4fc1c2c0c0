// Billing through the real router and the real Stripe SDK, pointed at a local server that answers
// like Stripe. Webhook events are signed offline and go through the same verify → store → process
// path as POST /webhooks/stripe and the stripe_event job (the server's tests run that over HTTP with
// a real worker); here the job's body runs inline.
import {
  cancelOrganizationSubscription,
  processStripeEvent,
  reconcileSubscriptions,
  type UserEvent,
  userChannel,
} from '@woopdi/core';
import { auditLog, organizations, stripeEvents, subscriptions } from '@woopdi/db';
import { queuedJobs } from '@woopdi/db/testing';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_DISABLED, receiveStripeEvent, verifyStripeWebhook } from '../src/services/billing.js';
import { assertEntitlement } from '../src/services/entitlements.js';
import {
  callerFor,
  createTestDeps,
  type FakeStripe,
  startFakeStripe,
  type TestDeps,
} from '../src/testing.js';
import { createCallerFactory, orgProcedure, requireEntitlement, router } from '../src/trpc.js';
import { signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';

const WEBHOOK_SECRET = 'whsec_test_billing';
const PRICE = 'price_pro_test';
const BILLING_ENV = {
  STRIPE_SECRET_KEY: 'sk_test_billing',
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_PRICE_PRO: PRICE,
  PLAN_FREE_SEATS: '3',
  BILLING_GRACE_DAYS: '7',
};
const DAY = 24 * 3600_000;

let stripe: FakeStripe;
let deps: TestDeps;
beforeAll(async () => {
  stripe = await startFakeStripe({ webhookSecret: WEBHOOK_SECRET });
  deps = await createTestDeps(BILLING_ENV, { stripe: stripe.client });
});
afterAll(async () => {
  await deps?.close();
  await stripe?.close();
});

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 'OK', message: '' }),
    (e) => e as { code: string; message: string },
  );

async function team(name = 'Billing Co') {
  const owner = await signUp(deps, uniqueEmail('owner'));
  const org = await owner.api.organizations.create({ name });
  return { owner, organizationId: org.id };
}
type Team = Awaited<ReturnType<typeof team>>;

/** The webhook path: signature check, store once (+ job), then the job's body. */
async function deliver(type: string, object: Record<string, unknown>, options: { id?: string } = {}) {
  const signed = stripe.signedEvent(type, object, options);
  const event = verifyStripeWebhook(deps, Buffer.from(signed.payload), signed.signature);
  const received = await receiveStripeEvent(deps, event);
  if (!received.duplicate) await processStripeEvent(deps, stripe.client, event.id);
  return { ...received, id: signed.id };
}

/** Checkout for `seats`, paid in Stripe, confirmed by checkout.session.completed. */
async function subscribe(t: Team, seats: number) {
  const { sessionId } = await t.owner.api.billing.checkout({
    organizationId: t.organizationId,
    plan: 'pro',
    seats,
  });
  const sub = stripe.completeCheckout(sessionId);
  await deliver('checkout.session.completed', {
    ...stripe.sessions.get(sessionId)!,
    object: 'checkout.session',
  });
  return sub;
}

const subscriptionRow = async (organizationId: string) =>
  (await deps.db.select().from(subscriptions).where(eq(subscriptions.organizationId, organizationId)))[0];

const auditActions = async (organizationId: string, action: string) =>
  deps.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.organizationId, organizationId), eq(auditLog.action, action)));

describe('plans', () => {
  it('are public: free with its fixed seats, pro with seats from the subscription and AI generation', async () => {
    const { enabled, plans } = await callerFor(deps).billing.plans();
    expect(enabled).toBe(true);
    expect(plans).toEqual([
      expect.objectContaining({ id: 'free', seats: 3, features: [], purchasable: false }),
      expect.objectContaining({ id: 'pro', seats: null, features: ['ai_generation'], purchasable: true }),
    ]);
  });
});

describe('checkout', () => {
  it('creates the Stripe customer lazily, once per organization, and returns the Checkout URL', async () => {
    const t = await team();
    const [org] = await deps.db.select().from(organizations).where(eq(organizations.id, t.organizationId));
    expect(org!.stripeCustomerId).toBeNull(); // never at signup or organization creation

    const before = stripe.requestsTo('POST', '/v1/customers').length;
    // Two first checkouts at once: the idempotency key gets them the same customer.
    const [first, second] = await Promise.all([
      t.owner.api.billing.checkout({ organizationId: t.organizationId, plan: 'pro', seats: 3 }),
      t.owner.api.billing.checkout({ organizationId: t.organizationId, plan: 'pro', seats: 4 }),
    ]);
    expect(first.url).toMatch(/^https:\/\/checkout\.stripe\.test\//);
    expect(second.sessionId).not.toBe(first.sessionId);
    const customerRequests = stripe.requestsTo('POST', '/v1/customers').slice(before);
    expect(new Set(customerRequests.map((r) => r.idempotencyKey))).toEqual(
      new Set([`woopdi-organization-customer-${t.organizationId}`]),
    );
    expect(customerRequests[0]!.body.metadata).toEqual({ organizationId: t.organizationId });
    const [stored] = await deps.db.select().from(organizations).where(eq(organizations.id, t.organizationId));
    expect(stored!.stripeCustomerId).toMatch(/^cus_/);
    expect(stripe.customers.size).toBeGreaterThan(0);

    const session = stripe.sessions.get(first.sessionId)!;
    expect(session).toMatchObject({
      mode: 'subscription',
      customer: stored!.stripeCustomerId,
      client_reference_id: t.organizationId,
      metadata: { organizationId: t.organizationId },
      subscription_data: { metadata: { organizationId: t.organizationId } },
      line_items: [{ price: PRICE, quantity: '3' }],
    });
    expect(String(session.success_url)).toMatch(
      new RegExp(`^http://app\\.test/organizations/${t.organizationId}/billing\\?checkout=success`),
    );
    expect(String(session.cancel_url)).toMatch(/^http:\/\/app\.test\//);

    // A later checkout reuses the customer.
    await t.owner.api.billing.checkout({ organizationId: t.organizationId, plan: 'pro', seats: 3 });
    expect(stripe.requestsTo('POST', '/v1/customers').length - before).toBe(customerRequests.length);
    expect(await auditActions(t.organizationId, 'billing.checkout_started')).toHaveLength(3);
  });

  it('→ checkout.session.completed: the subscription is active, the plan pro, seats the quantity; the portal opens', async () => {
    const t = await team();
    const admins = deps.bus.subscribe<UserEvent>(userChannel(t.owner.user.id));
    await admins.ready;
    const sub = await subscribe(t, 5);

    const billing = await t.owner.api.billing.get({ organizationId: t.organizationId });
    expect(billing).toMatchObject({
      enabled: true,
      plan: 'pro',
      status: 'active',
      seats: { used: 1, members: 1, pendingInvitations: 0, allowed: 5 },
      features: ['ai_generation'],
      cancelAtPeriodEnd: false,
      inGracePeriod: false,
    });
    expect(new Date(billing.currentPeriodEnd!).getTime()).toBeGreaterThan(Date.now() + 29 * DAY);
    expect(await subscriptionRow(t.organizationId)).toMatchObject({
      stripeSubscriptionId: sub.id,
      priceId: PRICE,
      seats: 5,
      plan: 'pro',
    });
    const [audited] = await auditActions(t.organizationId, 'billing.subscription_synced');
    expect(audited!.metadata).toMatchObject({
      eventType: 'checkout.session.completed',
      status: 'active',
      seats: 5,
    });

    for await (const event of admins) {
      expect(event).toMatchObject({
        type: 'billing.updated',
        organizationId: t.organizationId,
        plan: 'pro',
        seats: 5,
      });
      break;
    }
    admins.close();

    const before = stripe.requestsTo('POST', '/v1/billing_portal/sessions').length;
    const { url } = await t.owner.api.billing.portal({ organizationId: t.organizationId });
    expect(url).toMatch(/^https:\/\/billing\.stripe\.test\//);
    const [portal] = stripe.requestsTo('POST', '/v1/billing_portal/sessions').slice(before);
    expect(portal!.body).toEqual({
      customer: sub.customer,
      return_url: `http://app.test/organizations/${t.organizationId}/billing`,
    });

    // A second subscription is not sold to an organization that has one.
    expect(
      (
        await errorOf(
          t.owner.api.billing.checkout({ organizationId: t.organizationId, plan: 'pro', seats: 5 }),
        )
      ).code,
    ).toBe('CONFLICT');
  });

  it('is refused for personal (solo) organizations, below the seats in use, and the portal before any checkout', async () => {
    const t = await team();
    const solo = (await t.owner.api.users.memberships({ includeSolo: true })).memberships.find(
      (m) => m.isSolo,
    )!;
    const soloError = await errorOf(
      t.owner.api.billing.checkout({ organizationId: solo.organizationId, plan: 'pro', seats: 1 }),
    );
    expect(soloError.code).toBe('FORBIDDEN');
    expect(soloError.message).toMatch(/team organization/);

    await t.owner.api.invitations.create({ organizationId: t.organizationId, email: uniqueEmail('x') });
    const few = await errorOf(
      t.owner.api.billing.checkout({ organizationId: t.organizationId, plan: 'pro', seats: 1 }),
    );
    expect(few).toMatchObject({ code: 'BAD_REQUEST' });
    expect(few.message).toMatch(/at least 2/);

    const portal = await errorOf(t.owner.api.billing.portal({ organizationId: t.organizationId }));
    expect(portal.code).toBe('PRECONDITION_FAILED');
    expect(portal.message).toMatch(/checkout/);
  });
});

describe('webhook events', () => {
  it('the same event delivered 100 times, also concurrently, is stored once, gets one job, and is processed once', async () => {
    const t = await team();
    const { sessionId } = await t.owner.api.billing.checkout({
      organizationId: t.organizationId,
      plan: 'pro',
      seats: 4,
    });
    const sub = stripe.completeCheckout(sessionId);
    const signed = stripe.signedEvent('checkout.session.completed', {
      ...stripe.sessions.get(sessionId)!,
      object: 'checkout.session',
    });
    const event = verifyStripeWebhook(deps, Buffer.from(signed.payload), signed.signature);

    const concurrent = await Promise.all(Array.from({ length: 50 }, () => receiveStripeEvent(deps, event)));
    const sequential = [];
    for (let i = 0; i < 50; i++) sequential.push(await receiveStripeEvent(deps, event));
    expect([...concurrent, ...sequential].filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, signed.id))).toHaveLength(1);
    const jobs = (await queuedJobs(deps.sql, 'stripe_event')).filter((j) => j.payload.eventId === signed.id);
    expect(jobs).toHaveLength(1);

    // Even a job that runs twice (a retry after a crash) changes and audits once.
    const retrievesBefore = stripe.requestsTo('GET', `/v1/subscriptions/${sub.id}`).length;
    await Promise.all([
      processStripeEvent(deps, stripe.client, signed.id),
      processStripeEvent(deps, stripe.client, signed.id),
    ]);
    await processStripeEvent(deps, stripe.client, signed.id);
    expect(stripe.requestsTo('GET', `/v1/subscriptions/${sub.id}`).length - retrievesBefore).toBe(1);
    expect(await auditActions(t.organizationId, 'billing.subscription_synced')).toHaveLength(1);
    const [row] = await deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, signed.id));
    expect(row!.processedAt).not.toBeNull();
  });

  it('customer.subscription.updated delivered before .created ends in the state Stripe has', async () => {
    const t = await team();
    const { sessionId } = await t.owner.api.billing.checkout({
      organizationId: t.organizationId,
      plan: 'pro',
      seats: 4,
    });
    const sub = stripe.completeCheckout(sessionId);
    const createdSnapshot = structuredClone({ ...sub, status: 'incomplete' });
    stripe.setSubscription(sub.id, { quantity: 7, cancel_at_period_end: true });
    const updatedSnapshot = structuredClone(stripe.subscriptions.get(sub.id)!);

    await deliver('customer.subscription.updated', updatedSnapshot as unknown as Record<string, unknown>);
    await deliver('customer.subscription.created', createdSnapshot as unknown as Record<string, unknown>);

    expect(await subscriptionRow(t.organizationId)).toMatchObject({
      status: 'active',
      seats: 7,
      cancelAtPeriodEnd: true,
      plan: 'pro',
    });
    const billing = await t.owner.api.billing.get({ organizationId: t.organizationId });
    expect(billing).toMatchObject({
      plan: 'pro',
      status: 'active',
      cancelAtPeriodEnd: true,
      seats: { allowed: 7 },
    });
  });

  it('customer.subscription.deleted puts the organization back on free', async () => {
    const t = await team();
    const sub = await subscribe(t, 3);
    stripe.setSubscription(sub.id, { status: 'canceled' });
    await deliver(
      'customer.subscription.deleted',
      stripe.subscriptions.get(sub.id)! as unknown as Record<string, unknown>,
    );
    expect(await t.owner.api.billing.get({ organizationId: t.organizationId })).toMatchObject({
      plan: 'free',
      status: 'canceled',
      seats: { allowed: 3 },
      features: [],
    });
  });

  it('a bad, missing or foreign signature is refused and nothing is stored', async () => {
    const signed = stripe.signedEvent('invoice.paid', { id: 'in_1', object: 'invoice' });
    const foreign = stripe.signedEvent(
      'invoice.paid',
      { id: 'in_1', object: 'invoice' },
      { id: signed.id, secret: 'whsec_other' },
    );
    const attempts = [
      () => verifyStripeWebhook(deps, Buffer.from(signed.payload), undefined),
      () => verifyStripeWebhook(deps, Buffer.from(signed.payload), 't=1,v1=deadbeef'),
      () => verifyStripeWebhook(deps, Buffer.from(signed.payload.replace('in_1', 'in_2')), signed.signature),
      () => verifyStripeWebhook(deps, Buffer.from(foreign.payload), foreign.signature),
    ];
    for (const attempt of attempts)
      expect(attempt).toThrowError(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(await deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, signed.id))).toHaveLength(0);
  });
});

describe('seats', () => {
  const inviteNew = (t: Team) =>
    t.owner.api.invitations.create({ organizationId: t.organizationId, email: uniqueEmail('seat') });

  it('free allows 3 (members + pending invitations); after upgrading to 5 two more fit; seats cannot go below usage', async () => {
    const t = await team();
    await inviteNew(t);
    await inviteNew(t); // owner + 2 pending = 3
    const fourth = await errorOf(inviteNew(t));
    expect(fourth.code).toBe('PRECONDITION_FAILED');
    expect(fourth.message).toMatch(/allows 3 seats/);
    expect(fourth.message).toMatch(/billing\/checkout/);

    await subscribe(t, 5);
    await inviteNew(t);
    await inviteNew(t); // 5
    const sixth = await errorOf(inviteNew(t));
    expect(sixth.code).toBe('PRECONDITION_FAILED');
    expect(sixth.message).toMatch(/allows 5 seats/);
    expect(sixth.message).toMatch(/billing\/seats/);

    const below = await errorOf(
      t.owner.api.billing.updateSeats({ organizationId: t.organizationId, seats: 4 }),
    );
    expect(below.code).toBe('BAD_REQUEST');
    expect(below.message).toMatch(/5 seats in use/);

    const row = await subscriptionRow(t.organizationId);
    const updated = await t.owner.api.billing.updateSeats({ organizationId: t.organizationId, seats: 6 });
    expect(updated.seats).toMatchObject({ used: 5, allowed: 6 });
    expect(stripe.subscriptions.get(row!.stripeSubscriptionId)!.items.data[0]!.quantity).toBe(6);
    const [change] = await auditActions(t.organizationId, 'billing.seats_changed');
    expect(change).toMatchObject({ actorUserId: t.owner.user.id });
    await inviteNew(t);
  });

  it('re-inviting a pending email keeps its seat', async () => {
    const t = await team();
    const email = uniqueEmail('again');
    await t.owner.api.invitations.create({ organizationId: t.organizationId, email });
    await inviteNew(t);
    await t.owner.api.invitations.create({ organizationId: t.organizationId, email }); // rotates
  });

  it('concurrent invitations cannot take more seats than the plan has', async () => {
    const t = await team();
    const results = await Promise.all(Array.from({ length: 6 }, () => errorOf(inviteNew(t))));
    expect(results.filter((r) => r.code === 'OK')).toHaveLength(2);
    expect(results.filter((r) => r.code === 'PRECONDITION_FAILED')).toHaveLength(4);
  });

  it('accepting an invitation beyond the seats (after a downgrade) is refused with the upgrade path', async () => {
    const t = await team();
    const sub = await subscribe(t, 5);
    const emails = [uniqueEmail('a'), uniqueEmail('b'), uniqueEmail('c'), uniqueEmail('d')];
    for (const email of emails)
      await t.owner.api.invitations.create({ organizationId: t.organizationId, email });
    for (const email of emails.slice(0, 2)) {
      await callerFor(deps).invitations.accept({
        token: await tokenFromOutbox(deps, email, 'invitation'),
        password: 'correct horse battery',
      });
    }
    // 3 members, 2 pending; the subscription ends: free has 3 seats.
    stripe.setSubscription(sub.id, { status: 'canceled' });
    await deliver(
      'customer.subscription.deleted',
      stripe.subscriptions.get(sub.id)! as unknown as Record<string, unknown>,
    );
    const refused = await errorOf(
      callerFor(deps).invitations.accept({
        token: await tokenFromOutbox(deps, emails[2]!, 'invitation'),
        password: 'correct horse battery',
      }),
    );
    expect(refused.code).toBe('PRECONDITION_FAILED');
    expect(refused.message).toMatch(/allows 3 seats and 3 are taken/);
    expect(refused.message).toMatch(/billing\/checkout/);
  });
});

describe('paid features', () => {
  // A procedure gated like the paid ones are: an organization gate, then requireEntitlement.
  const gated = router({
    generate: orgProcedure('MEMBER')
      .use(requireEntitlement('ai_generation'))
      .mutation(() => ({ generated: true })),
  });
  const gatedCaller = (token: string) =>
    createCallerFactory(gated)({ ...deps, accessToken: token, requestId: 't', ip: null, userAgent: null });

  it('are refused on free with the upgrade path', async () => {
    const t = await team();
    const refused = await errorOf(
      gatedCaller(t.owner.tokens.accessToken).generate({ organizationId: t.organizationId }),
    );
    expect(refused.code).toBe('PRECONDITION_FAILED');
    expect(refused.message).toMatch(/needs the Pro plan.*billing\/checkout/);
  });

  it('stay on while past_due within the grace period, stop beyond it, and come back with invoice.paid', async () => {
    const t = await team();
    const sub = await subscribe(t, 3);
    const call = () =>
      errorOf(gatedCaller(t.owner.tokens.accessToken).generate({ organizationId: t.organizationId }));
    expect((await call()).code).toBe('OK');

    stripe.setSubscription(sub.id, { status: 'past_due' });
    const invoice = (id: string) => ({
      id,
      object: 'invoice',
      customer: sub.customer,
      parent: { type: 'subscription_details', subscription_details: { subscription: sub.id } },
    });
    await deliver('invoice.payment_failed', invoice('in_failed'));
    expect(await t.owner.api.billing.get({ organizationId: t.organizationId })).toMatchObject({
      plan: 'pro',
      status: 'past_due',
      inGracePeriod: true,
    });
    expect((await call()).code).toBe('OK');

    // Eight days later (the grace period is 7).
    await deps.db
      .update(subscriptions)
      .set({ pastDueSince: new Date(Date.now() - 8 * DAY) })
      .where(eq(subscriptions.organizationId, t.organizationId));
    const refused = await call();
    expect(refused.code).toBe('PRECONDITION_FAILED');
    expect(refused.message).toMatch(/paused.*past_due.*billing\/portal/);
    await expect(assertEntitlement(deps, t.organizationId, 'ai_generation')).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    // A second failed invoice does not restart the grace period.
    await deliver('invoice.payment_failed', invoice('in_failed_again'));
    expect((await call()).code).toBe('PRECONDITION_FAILED');

    stripe.setSubscription(sub.id, { status: 'active' });
    await deliver('invoice.paid', invoice('in_paid'));
    expect((await call()).code).toBe('OK');
    expect((await subscriptionRow(t.organizationId))!.pastDueSince).toBeNull();
  });
});

describe('access', () => {
  it('every billing procedure is for organization ADMINs only', async () => {
    const t = await team();
    const moderator = await signUp(deps, uniqueEmail('mod'));
    const member = await signUp(deps, uniqueEmail('member'));
    for (const [who, role] of [
      [moderator, 'MODERATOR'],
      [member, 'MEMBER'],
    ] as const) {
      await t.owner.api.invitations.create({ organizationId: t.organizationId, email: who.email, role });
      await who.api.invitations.accept({ token: await tokenFromOutbox(deps, who.email, 'invitation') });
    }
    const outsider = await signUp(deps, uniqueEmail('outsider'));
    const organizationId = t.organizationId;
    for (const user of [moderator, member, outsider]) {
      const calls = [
        () => user.api.billing.get({ organizationId }),
        () => user.api.billing.checkout({ organizationId, plan: 'pro', seats: 3 }),
        () => user.api.billing.portal({ organizationId }),
        () => user.api.billing.updateSeats({ organizationId, seats: 3 }),
      ];
      for (const call of calls) expect((await errorOf(call())).code).toBe('FORBIDDEN');
    }
  });
});

describe('lifecycle', () => {
  it('deleting an organization cancels its subscription through a job, so Stripe being down never blocks it', async () => {
    const t = await team();
    const sub = await subscribe(t, 3);
    stripe.down = true;
    try {
      await t.owner.api.organizations.delete({ organizationId: t.organizationId });
    } finally {
      stripe.down = false;
    }
    const [job] = (await queuedJobs(deps.sql, 'stripe_cancel_subscription')).filter(
      (j) => j.payload.organizationId === t.organizationId,
    );
    expect(job!.payload).toEqual({ organizationId: t.organizationId, subscriptionId: sub.id });

    await cancelOrganizationSubscription(deps, stripe.client, {
      organizationId: t.organizationId,
      subscriptionId: sub.id,
    });
    expect(stripe.requestsTo('DELETE', `/v1/subscriptions/${sub.id}`)).toHaveLength(1);
    expect(await subscriptionRow(t.organizationId)).toMatchObject({ status: 'canceled', plan: 'free' });
    expect(await auditActions(t.organizationId, 'billing.subscription_canceled')).toHaveLength(1);
    // A retried job finds it canceled and does not cancel again.
    await cancelOrganizationSubscription(deps, stripe.client, {
      organizationId: t.organizationId,
      subscriptionId: sub.id,
    });
    expect(stripe.requestsTo('DELETE', `/v1/subscriptions/${sub.id}`)).toHaveLength(1);
  });

  it('the nightly reconciliation re-syncs drift from Stripe and audits it; without drift it changes nothing', async () => {
    const t = await team();
    const sub = await subscribe(t, 3);
    await reconcileSubscriptions(deps, stripe.client);
    stripe.setSubscription(sub.id, { quantity: 9 }); // a change whose webhook never arrived
    await reconcileSubscriptions(deps, stripe.client);
    expect((await subscriptionRow(t.organizationId))!.seats).toBe(9);
    const reconciled = await auditActions(t.organizationId, 'billing.subscription_reconciled');
    expect(reconciled).toHaveLength(1);
    expect(reconciled[0]!.metadata).toMatchObject({
      seats: 9,
      previous: expect.objectContaining({ seats: 3 }),
    });
    await reconcileSubscriptions(deps, stripe.client);
    expect(await auditActions(t.organizationId, 'billing.subscription_reconciled')).toHaveLength(1);
  });
});

describe('disabled (no STRIPE_SECRET_KEY)', () => {
  let off: TestDeps;
  beforeAll(async () => {
    off = await createTestDeps({ PLAN_FREE_SEATS: '3' });
  });
  afterAll(() => off?.close());

  it('reports billing disabled, keeps every organization on free, and answers billing mutations 412', async () => {
    const settings = await callerFor(off).system.settings();
    expect(settings.billing.enabled).toBe(false);
    const plans = await callerFor(off).billing.plans();
    expect(plans.enabled).toBe(false);
    expect(plans.plans.every((p) => !p.purchasable)).toBe(true);

    const owner = await signUp(off, uniqueEmail('owner'));
    const org = await owner.api.organizations.create({ name: 'No Billing' });
    // Even a row that says pro (left from a time with Stripe) counts as free.
    await off.db.update(organizations).set({ plan: 'pro' }).where(eq(organizations.id, org.id));
    expect(await owner.api.billing.get({ organizationId: org.id })).toMatchObject({
      enabled: false,
      plan: 'free',
      status: null,
      features: [],
      seats: { allowed: 3 },
    });
    for (const call of [
      () => owner.api.billing.checkout({ organizationId: org.id, plan: 'pro', seats: 3 }),
      () => owner.api.billing.portal({ organizationId: org.id }),
      () => owner.api.billing.updateSeats({ organizationId: org.id, seats: 3 }),
    ]) {
      expect(await errorOf(call())).toMatchObject({ code: 'PRECONDITION_FAILED', message: BILLING_DISABLED });
    }
    expect(BILLING_DISABLED).toMatch(/Billing is not configured/);
  });
});
