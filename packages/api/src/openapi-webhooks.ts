// The outbound webhook events in the OpenAPI 3.1 document's `webhooks` section: one entry per type
// of core's catalogue, its body schema generated from the same zod schema the events are built with.
import { webhookBodySchema, webhookEventDescription, webhookEventTypes } from '@woopdi/core';
import { z } from 'zod';

const SIGNATURE_HEADERS = {
  'webhook-id': 'The message id: the same on every attempt of this delivery (deduplicate on it).',
  'webhook-timestamp': 'Unix seconds of this attempt; refuse ones far from now (replays).',
  'webhook-signature':
    'Space-separated `v1,<base64 HMAC-SHA256>` signatures of `id.timestamp.body` (Standard Webhooks); two during the 24 h after a secret rotation.',
};

/** Adds `webhooks` (and the description of how they are signed and retried) to the document. */
export function addWebhooks<D extends object>(doc: D): D {
  const webhooks: Record<string, unknown> = {};
  for (const type of webhookEventTypes) {
    webhooks[type] = {
      post: {
        operationId: `webhook-${type.replace(/[^A-Za-z0-9]+/g, '-')}`,
        summary: type,
        description: `${webhookEventDescription(type)} Sent to every enabled endpoint of the organization that selected \`${type}\` (or every type). Answer 2xx within 10 s; anything else is retried with backoff for about a day.`,
        tags: ['webhooks'],
        parameters: Object.entries(SIGNATURE_HEADERS).map(([name, description]) => ({
          name,
          in: 'header',
          required: true,
          description,
          schema: { type: 'string' },
        })),
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: z.toJSONSchema(webhookBodySchema(type), { io: 'input' }) },
          },
        },
        responses: { '200': { description: 'Any 2xx: received. Redirects are not followed.' } },
      },
    };
  }
  return { ...doc, webhooks };
}
