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

const EXAMPLES: Record<string, string> = {
  uuid: '3f2b8c1e-6a4d-4e2f-9b7a-1c5d8e9f0a12',
  'date-time': '2026-12-01T09:30:00.000Z',
};

/** Drops zod's regular expressions where a `format` says it (as the rest of the document does). */
function withoutFormatPatterns(node: unknown): void {
  if (Array.isArray(node)) return void node.forEach(withoutFormatPatterns);
  if (!node || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  if (typeof schema.format === 'string' && typeof schema.pattern === 'string') {
    delete schema.pattern;
    const example = EXAMPLES[schema.format];
    if (example && schema.examples === undefined) schema.examples = [example];
  }
  for (const value of Object.values(schema)) withoutFormatPatterns(value);
}

function bodySchema(type: (typeof webhookEventTypes)[number]) {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(webhookBodySchema(type), { io: 'input' }) as Record<
    string,
    unknown
  >;
  withoutFormatPatterns(schema);
  return schema;
}

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
        // Sent by Woopdi to the receiver: authenticated by the signature headers, not a bearer token.
        security: [],
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
            'application/json': { schema: bodySchema(type) },
          },
        },
        responses: { '200': { description: 'Any 2xx: received. Redirects are not followed.' } },
      },
    };
  }
  return { ...doc, webhooks };
}
