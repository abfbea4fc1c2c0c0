// Issue #14, finding 13 over HTTP: the task quotas as REST and tRPC clients meet them — 412 naming
// the limit past the plan's concurrent tasks, 429 with a Retry-After header past RATE_LIMIT_TASK_STARTS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';
import { undocumentedAnswers } from './openapi-conformance.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ RATE_LIMIT_TASK_STARTS: '3/60', PLAN_FREE_CONCURRENT_TASKS: '2' });
});
afterAll(() => server?.close());

/** A new account's access token and its solo organization. */
async function account() {
  const signup = await call<{ tokens: { accessToken: string } }>(`${server.url}/api/auth/signup`, {
    body: { email: uniqueEmail('tasks'), password: PASSWORD },
  });
  expect(signup.status, signup.text).toBe(200);
  const token = signup.body.tokens.accessToken;
  const mine = await call<{ memberships: { organizationId: string }[] }>(
    `${server.url}/api/user/memberships?includeSolo=true`,
    { token },
  );
  return { token, organizationId: mine.body.memberships[0]!.organizationId };
}

const startVia = (token: string, organizationId: string, kind = 'example_streaming') =>
  call(`${server.url}/api/organizations/${organizationId}/tasks`, {
    token,
    body: { kind, input: kind === 'example_streaming' ? { steps: 1, intervalMs: 0 } : {} },
  });

describe('POST /api/organizations/{organizationId}/tasks', () => {
  it('412 naming the plan limit once the Free organization has 2 tasks queued, then 429 with Retry-After', async () => {
    const { token, organizationId } = await account();
    expect((await startVia(token, organizationId)).status).toBe(200);
    expect((await startVia(token, organizationId)).status).toBe(200);
    const full = await startVia(token, organizationId);
    expect(full.status, full.text).toBe(412);
    expect(full.body.message).toContain('allows 2 tasks queued or running at once');

    const limited = await startVia(token, organizationId);
    expect(limited.status, limited.text).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body.message).toMatch(/too many tasks\. Try again in \d+ seconds/);
  });

  it('the tRPC answer carries retryAfterSeconds and the header too', async () => {
    const { token, organizationId } = await account();
    const input = { organizationId, kind: 'example_streaming', input: { steps: 1, intervalMs: 0 } };
    // The solo organization holds 2: the third start is a 412, and counts as the third attempt.
    const codes = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${server.url}/trpc/tasks.start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(input),
      });
      codes.push(res.status);
      if (i === 3) {
        const body = (await res.json()) as { error: { data: { retryAfterSeconds: number } } };
        expect(body.error.data.retryAfterSeconds).toBeGreaterThan(0);
        expect(res.headers.get('retry-after')).toBe(String(body.error.data.retryAfterSeconds));
      }
    }
    expect(codes).toEqual([200, 200, 412, 429]);
  });
});

describe('the OpenAPI document', () => {
  it('lists every status this file saw, each body matching its schema', async () => {
    const { problems, seen } = await undocumentedAnswers(server.url);
    expect(seen.size).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  });
});
