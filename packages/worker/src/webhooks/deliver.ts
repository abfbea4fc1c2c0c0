// One attempt of a webhook delivery, and what follows from it: the attempt recorded; on success the
// delivery is done and the endpoint healthy; on failure the next attempt is scheduled (the retry
// schedule, with jitter: about a day by default, same webhook-id every time) until it runs out, and
// an endpoint that has failed continuously for WEBHOOK_DISABLE_AFTER is disabled and its
// organization's ADMINs are emailed. The SSRF guard runs again here, on every attempt: a name that
// resolved to a public address at creation may resolve to a private one now (DNS rebinding).
import {
  checkTarget,
  enqueueJob,
  open,
  parseTargetUrl,
  queueEmail,
  signWebhook,
  webhookMessageId,
} from '@woopdi/core';
import {
  auditLog,
  type DbOrTx,
  memberships,
  organizations,
  users,
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
} from '@woopdi/db';
import { and, eq, sql } from 'drizzle-orm';
import type { TaskDeps } from '../tasks/define.js';
import { type AttemptResult, sendWebhook } from './send.js';

/** ±20 %: receivers that failed together are not all retried in the same second. */
const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

type Endpoint = typeof webhookEndpoints.$inferSelect;

function liveSecrets(deps: TaskDeps, endpoint: Endpoint, now: Date): string[] {
  const keys = deps.config.encryptionKeys;
  const secrets = [open(keys, endpoint.sealedSecret)];
  if (
    endpoint.sealedPreviousSecret &&
    endpoint.previousSecretExpiresAt &&
    endpoint.previousSecretExpiresAt > now
  ) {
    secrets.push(open(keys, endpoint.sealedPreviousSecret));
  }
  return secrets;
}

async function attempt(deps: TaskDeps, endpoint: Endpoint, deliveryId: string, body: string, now: Date) {
  try {
    const url = parseTargetUrl(endpoint.url, deps.config.isProd);
    const pinned = await checkTarget(url, {
      allowPrivate: deps.config.webhooks.allowPrivateTargets,
      requireHttps: deps.config.isProd,
      resolve: deps.webhookResolver,
    });
    const headers = signWebhook(liveSecrets(deps, endpoint, now), webhookMessageId(deliveryId), body, now);
    return await sendWebhook({
      url,
      pinned,
      headers: { ...headers },
      body,
      timeoutMs: deps.config.webhooks.timeoutMs,
    });
  } catch (error) {
    // Refused by the guard (or an unusable URL): recorded like any failed attempt, nothing was sent.
    const message = error instanceof Error ? error.message : String(error);
    return {
      statusCode: null,
      durationMs: 0,
      error: `refused: ${message}`,
      responseExcerpt: null,
    } satisfies AttemptResult;
  }
}

const describe = (r: AttemptResult) =>
  r.statusCode !== null ? `HTTP ${r.statusCode}` : (r.error ?? 'no answer');

/** Disables the endpoint (inside the attempt's transaction), audits it and emails every ADMIN. */
async function disable(tx: DbOrTx, endpoint: Endpoint, failingSince: Date, last: AttemptResult) {
  const reason = `failing continuously since ${failingSince.toISOString()} (last: ${describe(last)})`;
  const [updated] = await tx
    .update(webhookEndpoints)
    .set({ enabled: false, disabledAt: new Date(), disabledReason: reason })
    .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.enabled, true)))
    .returning({ id: webhookEndpoints.id });
  if (!updated) return; // another attempt disabled it first
  await tx.insert(auditLog).values({
    organizationId: endpoint.organizationId,
    actorUserId: null,
    action: 'webhook.disabled',
    targetType: 'webhook',
    targetId: endpoint.id,
    metadata: { url: endpoint.url, reason },
  });
  const [org] = await tx
    .select({ name: organizations.name })
    .from(organizations)
    .where(eq(organizations.id, endpoint.organizationId));
  const admins = await tx
    .select({ email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.organizationId, endpoint.organizationId), eq(memberships.role, 'ADMIN')));
  for (const admin of admins) {
    await queueEmail(tx, {
      to: admin.email,
      template: 'webhook_disabled',
      payload: {
        organizationName: org?.name ?? 'your organization',
        endpointUrl: endpoint.url,
        failingSince: failingSince.toISOString(),
        lastError: describe(last),
      },
    });
  }
}

export async function deliverWebhook(deps: TaskDeps, deliveryId: string): Promise<void> {
  const [row] = await deps.db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId));
  if (row?.delivery.status !== 'pending') return;
  const { delivery, endpoint } = row;
  if (!endpoint.enabled) {
    await deps.db
      .update(webhookDeliveries)
      .set({ status: 'failed', nextAttemptAt: null })
      .where(eq(webhookDeliveries.id, deliveryId));
    return;
  }
  const now = new Date();
  const result = await attempt(deps, endpoint, delivery.id, delivery.body, now);
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const attempts = delivery.attempts + 1;

  await deps.db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({
      deliveryId,
      at: now,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      error: result.error,
      responseExcerpt: result.responseExcerpt,
    });
    const recorded = { attempts, lastStatusCode: result.statusCode };
    if (ok) {
      await tx
        .update(webhookDeliveries)
        .set({ ...recorded, status: 'succeeded', deliveredAt: new Date(), nextAttemptAt: null })
        .where(eq(webhookDeliveries.id, deliveryId));
      await tx
        .update(webhookEndpoints)
        .set({ failingSince: null })
        .where(eq(webhookEndpoints.id, endpoint.id));
      return;
    }
    const [marked] = await tx
      .update(webhookEndpoints)
      .set({
        failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now.toISOString()}::timestamptz)`,
      })
      .where(eq(webhookEndpoints.id, endpoint.id))
      .returning({ failingSince: webhookEndpoints.failingSince });
    const failingSince = marked?.failingSince ?? now;
    const disabled = now.getTime() - failingSince.getTime() >= deps.config.webhooks.disableAfterMs;
    if (disabled) await disable(tx, endpoint, failingSince, result);
    const delay = deps.config.webhooks.retryDelaysMs[attempts - 1];
    if (disabled || delay === undefined) {
      await tx
        .update(webhookDeliveries)
        .set({ ...recorded, status: 'failed', nextAttemptAt: null })
        .where(eq(webhookDeliveries.id, deliveryId));
      return;
    }
    const runAt = new Date(Date.now() + jitter(delay));
    await tx
      .update(webhookDeliveries)
      .set({ ...recorded, nextAttemptAt: runAt })
      .where(eq(webhookDeliveries.id, deliveryId));
    await enqueueJob(
      tx,
      'webhook_deliver',
      { deliveryId },
      { runAt, jobKey: `webhook_delivery:${deliveryId}` },
    );
  });
}
