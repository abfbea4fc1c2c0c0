// While a dependency of the api is down it answers 503: the SDK tries queries again with backoff
// (they are idempotent) and never repeats a mutation. The outage is injected in front of a real
// server, in the client's fetch; everything behind it is real.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { FetchLike } from '../src/client.js';
import { closeClients, harness, PASSWORD, startServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => closeClients());
afterAll(() => server?.close());

/** Answers the first `failures` tRPC calls as an api whose database is unreachable does. */
function outage(failures: number) {
  const calls: string[] = [];
  const fetchWithOutage: FetchLike = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    calls.push(url);
    if (url.includes('/trpc/') && calls.length <= failures) {
      const error = {
        message:
          'The service is temporarily unavailable (its database cannot be reached). Try again in a few seconds.',
        code: -32603,
        data: { code: 'SERVICE_UNAVAILABLE', httpStatus: 503, retryAfterSeconds: 5 },
      };
      const batched = url.includes('batch=1');
      return new Response(JSON.stringify(batched ? [{ error }] : { error }), {
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '5' },
      });
    }
    return fetch(input as Parameters<typeof fetch>[0], init as Parameters<typeof fetch>[1]);
  };
  return { calls, fetch: fetchWithOutage };
}

it('retries a query answered 503 until the service is back', async () => {
  const email = uniqueEmail('outage');
  const setup = harness(server);
  await setup.client.signup({ email, password: PASSWORD });
  const tokens = setup.client.getTokens();
  const down = outage(2);
  const { client } = harness(server, { fetch: down.fetch, tokens });
  const me = await client.api.users.me.query();
  expect(me.email).toBe(email);
  expect(down.calls.filter((u) => u.includes('users.me'))).toHaveLength(3);
});

it('gives up on a query after three retries, with the 503 as the error', async () => {
  const email = uniqueEmail('outage-long');
  const setup = harness(server);
  await setup.client.signup({ email, password: PASSWORD });
  const down = outage(100);
  const { client } = harness(server, { fetch: down.fetch, tokens: setup.client.getTokens() });
  const error = await client.api.users.me.query().catch((e: unknown) => e);
  expect((error as { data?: { httpStatus?: number } }).data?.httpStatus).toBe(503);
  expect(down.calls).toHaveLength(4);
});

it('never repeats a mutation answered 503', async () => {
  const email = uniqueEmail('outage-mutation');
  const setup = harness(server);
  await setup.client.signup({ email, password: PASSWORD });
  const down = outage(1);
  const { client } = harness(server, { fetch: down.fetch, tokens: setup.client.getTokens() });
  const error = await client.api.users.updateMe.mutate({ name: 'Once' }).catch((e: unknown) => e);
  expect((error as { data?: { httpStatus?: number } }).data?.httpStatus).toBe(503);
  expect(down.calls).toHaveLength(1);
});
