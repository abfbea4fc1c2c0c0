// Issue #14, finding 3: mail is throttled per recipient, whatever the client address. Reset and
// verification requests beyond RATE_LIMIT_EMAILS_PER_RECIPIENT queue nothing and answer the same
// generic message; invitations beyond RATE_LIMIT_INVITATIONS_PER_RECIPIENT (per organization and
// recipient) answer 429.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';
import { undocumentedAnswers } from './openapi-conformance.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    RATE_LIMIT_EMAILS_PER_RECIPIENT: '3/3600',
    RATE_LIMIT_INVITATIONS_PER_RECIPIENT: '2/3600',
    PLAN_FREE_SEATS: '1000',
  });
});
afterAll(() => server?.close());

const rest = (path: string, init: Parameters<typeof call>[1] = {}) => call(`${server.url}/api${path}`, init);

async function signup(email = uniqueEmail('mail')) {
  const res = await rest('/auth/signup', { body: { email, password: PASSWORD } });
  expect(res.status, res.text).toBe(200);
  return res.body as { tokens: { accessToken: string } };
}

const outbox = async (to: string, template: string) =>
  (
    await server.deps.sql<{ n: number }[]>`
      select count(*)::int as n from email_outbox where "to" = ${to} and template = ${template}`
  )[0]!.n;

describe('reset and verification emails per recipient', () => {
  it('16 requests for one address from 16 client addresses queue 3 emails, all answered alike', async () => {
    const email = uniqueEmail('victim');
    await signup(email);
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        rest(i % 2 ? '/auth/request-password-reset' : '/auth/resend-verification', {
          body: { email },
          headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
        }),
      ),
    );
    for (const [i, a] of answers.entries()) {
      expect(a.status, a.text).toBe(200);
      expect(a.body.message).toBe(answers[i % 2]!.body.message);
    }
    expect(answers[0]!.body.message).toMatch(/^If an account with this email exists/);
    const sent = (await outbox(email, 'reset_password')) + (await outbox(email, 'verify_email')) - 1; // signup's
    expect(sent).toBe(3);

    // Another recipient is not held back by this one.
    const other = uniqueEmail('other');
    await signup(other);
    const res = await rest('/auth/request-password-reset', { body: { email: other } });
    expect(res.status).toBe(200);
    expect(await outbox(other, 'reset_password')).toBe(1);
  });

  it('an unknown address answers the same generic message, throttled or not', async () => {
    const email = uniqueEmail('nobody');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => rest('/auth/request-password-reset', { body: { email } })),
    );
    expect(new Set(answers.map((a) => `${a.status} ${a.body.message}`)).size).toBe(1);
    expect(answers[0]!.status).toBe(200);
  });
});

describe('invitation emails per organization and recipient', () => {
  it('re-inviting one address beyond the limit is 429; another organization still invites it', async () => {
    const invitee = uniqueEmail('invitee');
    const teamOf = async (name: string) => {
      const { tokens } = await signup(uniqueEmail('owner'));
      const org = await rest('/organizations/create-organization', {
        body: { name },
        token: tokens.accessToken,
      });
      expect(org.status, org.text).toBe(200);
      return { token: tokens.accessToken, organizationId: org.body.id as string };
    };
    const a = await teamOf('Mail A');
    const invite = (t: { token: string; organizationId: string }) =>
      rest('/invitations', { body: { organizationId: t.organizationId, email: invitee }, token: t.token });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof invite>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await invite(a);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(last!.body.message).toMatch(/too many invitations to this address.*try again in \d+ seconds/i);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await outbox(invitee, 'invitation')).toBe(2);

    const b = await teamOf('Mail B');
    expect((await invite(b)).status).toBe(200);
    expect(await outbox(invitee, 'invitation')).toBe(3);
  });
});

describe('the OpenAPI document', () => {
  it('lists every status this file saw, each body matching its schema', async () => {
    const { problems, seen } = await undocumentedAnswers(server.url);
    expect(seen.size).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  });
});
