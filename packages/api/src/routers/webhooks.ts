import { uuid, type WebhookEventType, webhookEventTypes } from '@woopdi/core';
import { z } from 'zod';
import { isoDate } from '../schemas.js';
import * as webhooks from '../services/webhooks.js';
import { orgProcedure, router } from '../trpc.js';

const tags = ['webhooks'];
const eventType = z.enum(webhookEventTypes as [WebhookEventType, ...WebhookEventType[]]);

const webhook = z.object({
  id: uuid(),
  url: z.string(),
  description: z.string(),
  eventTypes: z.array(eventType).describe('The event types it receives; empty: every type'),
  enabled: z.boolean(),
  failingSince: isoDate.nullable().describe('Since when every attempt has failed (null when healthy)'),
  disabledAt: isoDate.nullable(),
  disabledReason: z.string().nullable(),
  previousSecretExpiresAt: isoDate
    .nullable()
    .describe('After a rotation: until when the previous secret also signs (24 h)'),
  createdAt: isoDate,
  updatedAt: isoDate,
});

const secret = z
  .string()
  .describe('The signing secret (whsec_…): shown only now; verify with a Standard Webhooks library');

const fields = {
  url: z.string().trim().min(1).max(2048).describe('https in production; public addresses only'),
  eventTypes: z.array(eventType).max(webhookEventTypes.length).optional(),
  description: z.string().trim().max(500).optional(),
  enabled: z.boolean().optional(),
};

const byId = { organizationId: uuid(), webhookId: uuid() };

const delivery = z.object({
  id: uuid(),
  webhookMessageId: z.string().describe('The webhook-id header: the same on every attempt'),
  eventType: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable(),
  nextAttemptAt: isoDate.nullable(),
  createdAt: isoDate,
  deliveredAt: isoDate.nullable(),
  body: z.string().describe('The JSON body exactly as signed and sent'),
  attemptLog: z.array(
    z.object({
      at: isoDate,
      statusCode: z.number().int().nullable(),
      durationMs: z.number().int(),
      error: z.string().nullable(),
      responseExcerpt: z.string().nullable().describe('The first 1 KiB of the answer'),
    }),
  ),
});

export const webhooksRouter = router({
  create: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/webhooks',
        tags,
        summary: 'Add an outbound webhook endpoint',
        description:
          "ADMIN only. Answers the signing secret once. The URL's host must resolve to public addresses only (400 otherwise; checked again on every delivery). 409 past 20 endpoints per organization. Events follow the Standard Webhooks specification (see the document's `webhooks`).",
      },
    })
    .input(z.object({ organizationId: uuid(), ...fields }))
    .output(z.object({ webhook, secret }))
    .mutation(({ ctx, input }) => webhooks.createEndpoint(ctx, ctx.membership, input)),

  list: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/webhooks',
        tags,
        summary: "The organization's webhook endpoints (never their secrets)",
        description: 'ADMIN only.',
      },
    })
    .output(z.object({ webhooks: z.array(webhook) }))
    .query(({ ctx }) => webhooks.listEndpoints(ctx, ctx.membership)),

  update: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/organizations/{organizationId}/webhooks/{webhookId}',
        tags,
        summary: 'Change a webhook endpoint',
        description:
          'ADMIN only. Only the fields sent change. Enabling a disabled endpoint restarts its failure period.',
      },
    })
    .input(z.object({ ...byId, ...fields, url: fields.url.optional() }))
    .output(webhook)
    .mutation(({ ctx, input }) => {
      const { organizationId: _o, webhookId, ...changes } = input;
      return webhooks.updateEndpoint(ctx, ctx.membership, webhookId, changes);
    }),

  delete: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/organizations/{organizationId}/webhooks/{webhookId}',
        tags,
        summary: 'Delete a webhook endpoint and its delivery log',
        description: 'ADMIN only.',
      },
    })
    .input(z.object(byId))
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => webhooks.deleteEndpoint(ctx, ctx.membership, input.webhookId)),

  rotateSecret: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/webhooks/{webhookId}/rotate-secret',
        tags,
        summary: 'Rotate the signing secret',
        description:
          'ADMIN only. Answers the new secret once; for 24 h every delivery carries signatures under both the new and the previous secret.',
      },
    })
    .input(z.object(byId))
    .output(z.object({ webhook, secret }))
    .mutation(({ ctx, input }) => webhooks.rotateSecret(ctx, ctx.membership, input.webhookId)),

  test: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/webhooks/{webhookId}/test',
        tags,
        summary: 'Send a webhook.test event to this endpoint',
        description: 'ADMIN only. 412 when the endpoint is disabled. See the delivery log for the outcome.',
      },
    })
    .input(z.object(byId))
    .output(z.object({ deliveryId: uuid(), webhookMessageId: z.string() }))
    .mutation(({ ctx, input }) => webhooks.testEndpoint(ctx, ctx.membership, input.webhookId)),

  deliveries: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/webhooks/{webhookId}/deliveries',
        tags,
        summary: 'The delivery log of an endpoint, newest first',
        description: 'ADMIN only. Each delivery with its last 10 attempts. Cursor pagination.',
      },
    })
    .input(
      z.object({
        ...byId,
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z.string().max(200).optional(),
      }),
    )
    .output(z.object({ deliveries: z.array(delivery), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) =>
      webhooks.listDeliveries(ctx, ctx.membership, input.webhookId, {
        limit: input.limit,
        cursor: input.cursor,
      }),
    ),

  redeliver: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver',
        tags,
        summary: 'Send one delivery again',
        description: 'ADMIN only. Same webhook-id as before. 412 when the endpoint is disabled.',
      },
    })
    .input(z.object({ ...byId, deliveryId: uuid() }))
    .output(z.object({ queued: z.literal(true) }))
    .mutation(({ ctx, input }) => webhooks.redeliver(ctx, ctx.membership, input.webhookId, input.deliveryId)),
});
