// A local HTTP server that answers like Stripe for the endpoints Woopdi uses (customers, Checkout
// and billing portal sessions, subscriptions), records every request, and signs webhook payloads
// offline. Tests talk to it through the real `stripe` SDK (createStripe with a host override).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStripe, type Stripe } from '@woopdi/core';

type Obj = Record<string, unknown>;

export interface RecordedStripeRequest {
  method: string;
  path: string;
  body: Obj;
  idempotencyKey: string | undefined;
}

export interface FakeSubscription {
  id: string;
  object: 'subscription';
  customer: string;
  status: string;
  cancel_at_period_end: boolean;
  metadata: Record<string, string>;
  items: { object: 'list'; has_more: false; url: string; data: FakeSubscriptionItem[] };
  latest_invoice: null;
  created: number;
}

interface FakeSubscriptionItem {
  id: string;
  object: 'subscription_item';
  price: { id: string; object: 'price' };
  quantity: number;
  current_period_start: number;
  current_period_end: number;
}

export interface FakeStripe {
  url: string;
  /** The real SDK, pointed at this server. */
  client: Stripe;
  requests: RecordedStripeRequest[];
  customers: Map<string, Obj>;
  sessions: Map<string, Obj>;
  subscriptions: Map<string, FakeSubscription>;
  /** While true, every request answers 500 (a Stripe outage). */
  down: boolean;
  /** What Stripe does when a customer pays a Checkout Session: creates the active subscription. */
  completeCheckout(sessionId: string): FakeSubscription;
  /** Changes a subscription as Stripe would on its own (a failed payment, a renewal, …). */
  setSubscription(
    id: string,
    patch: Partial<Pick<FakeSubscription, 'status' | 'cancel_at_period_end'>> & { quantity?: number },
  ): FakeSubscription;
  /** A webhook delivery: the JSON body and its Stripe-Signature header for `secret`. */
  signedEvent(
    type: string,
    object: Obj,
    options?: { id?: string; secret?: string },
  ): { id: string; payload: string; signature: string };
  /** Requests to one path (GET /v1/subscriptions/sub_1 → requestsTo('GET', '/v1/subscriptions/sub_1')). */
  requestsTo(method: string, path: string): RecordedStripeRequest[];
  close(): Promise<void>;
}

/** `a[b][0][c]=v` form bodies (how the SDK encodes parameters) into nested objects. */
function parseForm(body: string): Obj {
  const out: Obj = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split(/\]\[|\[|\]/).filter((p) => p !== '');
    let node = out as Record<string, unknown>;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = value;
        return;
      }
      node[part] ??= /^\d+$/.test(parts[i + 1]!) ? [] : {};
      node = node[part] as Record<string, unknown>;
    });
  }
  return out;
}

const id = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);

export async function startFakeStripe(options: {
  secretKey?: string;
  webhookSecret: string;
}): Promise<FakeStripe> {
  const requests: RecordedStripeRequest[] = [];
  const customers = new Map<string, Obj>();
  const sessions = new Map<string, Obj>();
  const subscriptions = new Map<string, FakeSubscription>();
  const idempotent = new Map<string, { status: number; body: unknown }>();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req') });
    res.end(JSON.stringify(body));
  };
  const missing = (what: string, value: string) => ({
    status: 404,
    body: {
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        message: `No such ${what}: '${value}'`,
        param: 'id',
      },
    },
  });

  function route(method: string, path: string, body: Obj): { status: number; body: unknown } {
    if (method === 'POST' && path === '/v1/customers') {
      const customer = { id: id('cus'), object: 'customer', created: now(), ...body };
      customers.set(customer.id, customer);
      return { status: 200, body: customer };
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const sid = id('cs_test');
      const session = {
        id: sid,
        object: 'checkout.session',
        url: `https://checkout.stripe.test/c/pay/${sid}`,
        status: 'open',
        subscription: null,
        ...body,
      };
      sessions.set(sid, session);
      return { status: 200, body: session };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      const pid = id('bps');
      return {
        status: 200,
        body: {
          id: pid,
          object: 'billing_portal.session',
          url: `https://billing.stripe.test/p/session/${pid}`,
          ...body,
        },
      };
    }
    const m = path.match(/^\/v1\/subscriptions\/([\w-]+)$/);
    if (m) {
      const sub = subscriptions.get(m[1]!);
      if (!sub) return missing('subscription', m[1]!);
      if (method === 'GET') return { status: 200, body: sub };
      if (method === 'DELETE') {
        sub.status = 'canceled';
        return { status: 200, body: sub };
      }
      if (method === 'POST') {
        for (const change of (body.items as Obj[] | undefined) ?? []) {
          const item = sub.items.data.find((i) => i.id === change.id);
          if (item && change.quantity !== undefined) item.quantity = Number(change.quantity);
        }
        if (body.cancel_at_period_end !== undefined)
          sub.cancel_at_period_end = body.cancel_at_period_end === 'true';
        return { status: 200, body: sub };
      }
    }
    return {
      status: 404,
      body: {
        error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` },
      },
    };
  }

  let fake: FakeStripe;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stripe.test');
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = parseForm(req.method === 'GET' ? url.search.slice(1) : raw);
      const key = req.headers['idempotency-key'] as string | undefined;
      const method = req.method ?? 'GET';
      requests.push({ method, path: url.pathname, body, idempotencyKey: key });
      if (fake.down)
        return send(res, 500, { error: { type: 'api_error', message: 'Stripe is down (test).' } });
      const replayKey = key ? `${method} ${url.pathname} ${key}` : undefined;
      const answer = (replayKey && idempotent.get(replayKey)) || route(method, url.pathname, body);
      if (replayKey) idempotent.set(replayKey, answer);
      send(res, answer.status, answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const client = createStripe(
    { secretKey: options.secretKey ?? 'sk_test_fake' },
    { host: '127.0.0.1', port, protocol: 'http' },
  );

  fake = {
    url: `http://127.0.0.1:${port}`,
    client,
    requests,
    customers,
    sessions,
    subscriptions,
    down: false,
    completeCheckout(sessionId) {
      const session = sessions.get(sessionId);
      if (!session) throw new Error(`no checkout session ${sessionId}`);
      const lineItem = (session.line_items as Obj[])[0]!;
      const subscriptionData = (session.subscription_data ?? {}) as Obj;
      const start = now();
      const sub: FakeSubscription = {
        id: id('sub'),
        object: 'subscription',
        customer: String(session.customer),
        status: 'active',
        cancel_at_period_end: false,
        metadata: (subscriptionData.metadata ?? {}) as Record<string, string>,
        created: start,
        latest_invoice: null,
        items: {
          object: 'list',
          has_more: false,
          url: '/v1/subscription_items',
          data: [
            {
              id: id('si'),
              object: 'subscription_item',
              price: { id: String(lineItem.price), object: 'price' },
              quantity: Number(lineItem.quantity ?? 1),
              current_period_start: start,
              current_period_end: start + 30 * 24 * 3600,
            },
          ],
        },
      };
      subscriptions.set(sub.id, sub);
      Object.assign(session, { status: 'complete', subscription: sub.id, payment_status: 'paid' });
      return sub;
    },
    setSubscription(subId, patch) {
      const sub = subscriptions.get(subId);
      if (!sub) throw new Error(`no subscription ${subId}`);
      const { quantity, ...rest } = patch;
      Object.assign(sub, rest);
      if (quantity !== undefined) sub.items.data[0]!.quantity = quantity;
      return sub;
    },
    signedEvent(type, object, eventOptions = {}) {
      const eventId = eventOptions.id ?? id('evt');
      const payload = JSON.stringify({
        id: eventId,
        object: 'event',
        api_version: '2026-10-28.endive',
        created: now(),
        type,
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        data: { object },
      });
      const signature = client.webhooks.generateTestHeaderString({
        payload,
        secret: eventOptions.secret ?? options.webhookSecret,
      });
      return { id: eventId, payload, signature };
    },
    requestsTo(method, path) {
      return requests.filter((r) => r.method === method && r.path === path);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
