// An organization's outbound webhook endpoints: CRUD, secret rotation (the previous secret keeps
// signing for 24 h), a test event, the delivery log and redelivery. The URL passes the SSRF guard
// when it is set (and again on every delivery, in the worker).
import {
  checkTarget,
  conflict,
  emitWebhookEvent,
  enqueueJob,
  newWebhookSecret,
  notFound,
  parseTargetUrl,
  preconditionFailed,
  seal,
  type WebhookEventType,
  webhookMessageId,
} from '@woopdi/core';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from '@woopdi/db';
import { and, count, desc, eq, inArray } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';

export const MAX_ENDPOINTS = 20;
export const PREVIOUS_SECRET_OVERLAP_MS = 24 * 3600 * 1000;
/** Attempts shown per delivery (newest). */
const ATTEMPTS_SHOWN = 10;

type EndpointRow = typeof webhookEndpoints.$inferSelect;

const publicEndpoint = (e: EndpointRow) => ({
  id: e.id,
  url: e.url,
  description: e.description,
  eventTypes: e.eventTypes as WebhookEventType[],
  enabled: e.enabled,
  failingSince: e.failingSince?.toISOString() ?? null,
  disabledAt: e.disabledAt?.toISOString() ?? null,
  disabledReason: e.disabledReason,
  previousSecretExpiresAt:
    e.previousSecretExpiresAt && e.previousSecretExpiresAt > new Date()
      ? e.previousSecretExpiresAt.toISOString()
      : null,
  createdAt: e.createdAt.toISOString(),
  updatedAt: e.updatedAt.toISOString(),
});

/** The SSRF guard at the moment a URL is set: refused targets answer 400 naming the address. */
async function checkedUrl(deps: ServiceDeps, raw: string): Promise<string> {
  const url = parseTargetUrl(raw, deps.config.isProd);
  await checkTarget(url, {
    allowPrivate: deps.config.webhooks.allowPrivateTargets,
    requireHttps: deps.config.isProd,
    resolve: deps.webhookResolver,
  });
  return url.toString();
}

async function endpointOf(deps: ServiceDeps, actor: Membership, webhookId: string) {
  const [row] = await deps.db
    .select()
    .from(webhookEndpoints)
    .where(
      and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.organizationId, actor.organizationId)),
    );
  if (!row) throw notFound('Webhook');
  return row;
}

export interface EndpointInput {
  url: string;
  eventTypes?: WebhookEventType[] | undefined;
  description?: string | undefined;
  enabled?: boolean | undefined;
}

export async function createEndpoint(deps: ServiceDeps, actor: Membership, input: EndpointInput) {
  const url = await checkedUrl(deps, input.url);
  const secret = newWebhookSecret();
  const row = await deps.db.transaction(async (tx) => {
    const [n] = await tx
      .select({ n: count() })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.organizationId, actor.organizationId));
    if ((n?.n ?? 0) >= MAX_ENDPOINTS) {
      throw conflict(`This organization already has ${MAX_ENDPOINTS} webhook endpoints: delete one first.`);
    }
    const [created] = await tx
      .insert(webhookEndpoints)
      .values({
        organizationId: actor.organizationId,
        url,
        description: input.description ?? '',
        eventTypes: [...new Set(input.eventTypes ?? [])],
        enabled: input.enabled ?? true,
        sealedSecret: seal(deps.config.encryptionKeys, secret),
        createdBy: actor.userId,
      })
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'webhook.created',
      target: { type: 'webhook', id: created!.id },
      metadata: { url, eventTypes: created!.eventTypes },
    });
    return created!;
  });
  return { webhook: publicEndpoint(row), secret };
}

export async function listEndpoints(deps: ServiceDeps, actor: Membership) {
  const rows = await deps.db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.organizationId, actor.organizationId))
    .orderBy(desc(webhookEndpoints.createdAt));
  return { webhooks: rows.map(publicEndpoint) };
}

export async function updateEndpoint(
  deps: ServiceDeps,
  actor: Membership,
  webhookId: string,
  input: Partial<EndpointInput>,
) {
  await endpointOf(deps, actor, webhookId);
  const url = input.url === undefined ? undefined : await checkedUrl(deps, input.url);
  const row = await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(webhookEndpoints)
      .set({
        ...(url !== undefined && { url }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.eventTypes !== undefined && { eventTypes: [...new Set(input.eventTypes)] }),
        ...(input.enabled !== undefined && { enabled: input.enabled }),
        // Enabled again by a person: a fresh start for the failure clock.
        ...(input.enabled === true && { failingSince: null, disabledAt: null, disabledReason: null }),
      })
      .where(
        and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.organizationId, actor.organizationId)),
      )
      .returning();
    if (!updated) throw notFound('Webhook');
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'webhook.updated',
      target: { type: 'webhook', id: webhookId },
      metadata: { ...input, ...(url !== undefined && { url }) },
    });
    return updated;
  });
  return publicEndpoint(row);
}

export async function deleteEndpoint(deps: ServiceDeps, actor: Membership, webhookId: string) {
  await deps.db.transaction(async (tx) => {
    const [gone] = await tx
      .delete(webhookEndpoints)
      .where(
        and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.organizationId, actor.organizationId)),
      )
      .returning({ id: webhookEndpoints.id, url: webhookEndpoints.url });
    if (!gone) throw notFound('Webhook');
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'webhook.deleted',
      target: { type: 'webhook', id: webhookId },
      metadata: { url: gone.url },
    });
  });
  return { deleted: true as const };
}

/** A new secret; the current one keeps signing alongside it for 24 h (both signatures are sent). */
export async function rotateSecret(deps: ServiceDeps, actor: Membership, webhookId: string) {
  const secret = newWebhookSecret();
  const row = await deps.db.transaction(async (tx) => {
    const [current] = await tx
      .select()
      .from(webhookEndpoints)
      .where(
        and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.organizationId, actor.organizationId)),
      )
      .for('update');
    if (!current) throw notFound('Webhook');
    const [updated] = await tx
      .update(webhookEndpoints)
      .set({
        sealedSecret: seal(deps.config.encryptionKeys, secret),
        sealedPreviousSecret: current.sealedSecret,
        previousSecretExpiresAt: new Date(Date.now() + PREVIOUS_SECRET_OVERLAP_MS),
      })
      .where(eq(webhookEndpoints.id, webhookId))
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'webhook.secret_rotated',
      target: { type: 'webhook', id: webhookId },
    });
    return updated!;
  });
  return { webhook: publicEndpoint(row), secret };
}

/** Sends a webhook.test event to this endpoint only, whatever types it selected. */
export async function testEndpoint(deps: ServiceDeps, actor: Membership, webhookId: string) {
  const endpoint = await endpointOf(deps, actor, webhookId);
  if (!endpoint.enabled)
    throw preconditionFailed('This webhook is disabled: enable it first (webhooks.update).');
  const [deliveryId] = await deps.db.transaction((tx) =>
    emitWebhookEvent(
      tx,
      actor.organizationId,
      'webhook.test',
      { webhookId, message: 'A test event from Woopdi.' },
      { endpointId: webhookId },
    ),
  );
  return { deliveryId: deliveryId!, webhookMessageId: webhookMessageId(deliveryId!) };
}

export async function listDeliveries(
  deps: ServiceDeps,
  actor: Membership,
  webhookId: string,
  input: { limit: number; cursor?: string | undefined },
) {
  await endpointOf(deps, actor, webhookId);
  const before = decodeCursor(input.cursor);
  const rows = await deps.db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, webhookId),
        keysetAfter(webhookDeliveries.createdAt, webhookDeliveries.id, before, 'desc'),
      ),
    )
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (r) => ({ at: r.createdAt, id: r.id }));
  const attempts = items.length
    ? await deps.db
        .select()
        .from(webhookAttempts)
        .where(
          inArray(
            webhookAttempts.deliveryId,
            items.map((d) => d.id),
          ),
        )
        .orderBy(desc(webhookAttempts.at))
    : [];
  return {
    deliveries: items.map((d) => ({
      id: d.id,
      webhookMessageId: webhookMessageId(d.id),
      eventType: d.eventType,
      status: d.status as 'pending' | 'succeeded' | 'failed',
      attempts: d.attempts,
      lastStatusCode: d.lastStatusCode,
      nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
      createdAt: d.createdAt.toISOString(),
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
      body: d.body,
      attemptLog: attempts
        .filter((a) => a.deliveryId === d.id)
        .slice(0, ATTEMPTS_SHOWN)
        .map((a) => ({
          at: a.at.toISOString(),
          statusCode: a.statusCode,
          durationMs: a.durationMs,
          error: a.error,
          responseExcerpt: a.responseExcerpt,
        })),
    })),
    nextCursor,
  };
}

/** Sends one delivery again now (same webhook-id); its attempts so far stay in the log. */
export async function redeliver(deps: ServiceDeps, actor: Membership, webhookId: string, deliveryId: string) {
  const endpoint = await endpointOf(deps, actor, webhookId);
  if (!endpoint.enabled)
    throw preconditionFailed('This webhook is disabled: enable it first (webhooks.update).');
  await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(webhookDeliveries)
      .set({ status: 'pending', nextAttemptAt: new Date() })
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, webhookId)))
      .returning({ id: webhookDeliveries.id });
    if (!row) throw notFound('Delivery');
    await enqueueJob(tx, 'webhook_deliver', { deliveryId }, { jobKey: `webhook_delivery:${deliveryId}` });
  });
  return { queued: true as const };
}
