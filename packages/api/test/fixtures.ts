import { randomBytes } from 'node:crypto';
import type { TaskKind } from '@woopdi/core';
import { apiKeys, emailOutbox, memberships, type OrgRole, organizations, subscriptions } from '@woopdi/db';
import { desc, eq } from 'drizzle-orm';
import { hashApiKeySecret } from '../src/middleware/api-key-auth.js';
import type { ServiceDeps } from '../src/services/deps.js';
import { callerFor } from '../src/testing.js';

let n = 0;
export const uniqueEmail = (prefix = 'user') => `${prefix}-${Date.now().toString(36)}-${++n}@example.com`;
export const PASSWORD = 'correct horse battery';

export async function signUp(deps: ServiceDeps, email = uniqueEmail(), password = PASSWORD) {
  const res = await callerFor(deps).auth.signup({ email, password });
  return { ...res, email, password, api: callerFor(deps, res.tokens.accessToken) };
}

/** The token of the newest email of `template` sent to `to`, read from the link in its payload. */
export async function tokenFromOutbox(deps: ServiceDeps, to: string, template: string) {
  const rows = await deps.db
    .select()
    .from(emailOutbox)
    .where(eq(emailOutbox.to, to))
    .orderBy(desc(emailOutbox.createdAt));
  const row = rows.find((r) => r.template === template);
  if (!row) throw new Error(`no ${template} email to ${to}`);
  return new URL(String(row.payload.url)).searchParams.get('token')!;
}

/** Resolves to the tRPC error code the promise rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? 'UNKNOWN';
  }
  return 'OK';
}

/** A new user added to the organization with `role` (straight in the table: no invitation, no seat check). */
export async function addMember(deps: ServiceDeps, organizationId: string, role: OrgRole) {
  const person = await signUp(deps);
  await deps.db.insert(memberships).values({ organizationId, userId: person.user.id, role });
  return person;
}

/** Puts the organization on Pro with an active subscription (what the Stripe sync would record). */
export async function makePro(deps: ServiceDeps, organizationId: string) {
  await deps.db.update(organizations).set({ plan: 'pro' }).where(eq(organizations.id, organizationId));
  await deps.db.insert(subscriptions).values({
    organizationId,
    stripeCustomerId: `cus_${organizationId.slice(0, 8)}`,
    stripeSubscriptionId: `sub_${organizationId.slice(0, 8)}`,
    priceId: 'price_pro',
    plan: 'pro',
    status: 'active',
  });
}

/**
 * A valid, cheap input for every task kind of core's registry: a kind added there without one here
 * is a compile error, so the role and tenancy matrices cover it from the start.
 */
export const SAMPLE_TASK_INPUT: { [K in TaskKind]: Record<string, unknown> } = {
  example_streaming: { steps: 1, intervalMs: 0 },
  org_export: {},
  generate_image: { prompt: 'a lighthouse at dusk' },
};

/** An API key of `organizationId` made straight in the table (no audit entry): `wpd_…` and its row id. */
export async function insertApiKey(
  deps: ServiceDeps,
  organizationId: string,
  createdBy: string,
  role: OrgRole,
  values: { expiresAt?: Date } = {},
) {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const [row] = await deps.db
    .insert(apiKeys)
    .values({
      organizationId,
      keyId,
      name: `${role.toLowerCase()} key`,
      secretHash: hashApiKeySecret(deps.config.apiKeyHashSecret, secret),
      role,
      createdBy,
      expiresAt: values.expiresAt ?? null,
    })
    .returning({ id: apiKeys.id });
  return { id: row!.id, key: `wpd_${keyId}_${secret}` };
}

/** The tokens of a sign-in that needs no second step (the account has two-factor off). */
export function signedIn<R extends { twoFactorRequired: boolean }>(
  result: R,
): Extract<R, { twoFactorRequired: false }> {
  if (result.twoFactorRequired) throw new Error('expected a sign-in without two-factor, got a challenge');
  return result as Extract<R, { twoFactorRequired: false }>;
}
