// The outbound webhook events in the served OpenAPI document: one `webhooks` entry per type of
// core's catalogue, with the body schema built from the same zod schema and the signature headers.
import { webhookEventTypes } from '@woopdi/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

interface WebhookOp {
  post: {
    parameters: { name: string; in: string }[];
    requestBody: {
      content: {
        'application/json': {
          schema: { properties: Record<string, { const?: string; properties?: Record<string, unknown> }> };
        };
      };
    };
  };
}

let server: TestServer;
let webhooks: Record<string, WebhookOp>;

beforeAll(async () => {
  server = await startTestServer();
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
    webhooks: Record<string, WebhookOp>;
  };
  webhooks = doc.webhooks;
});
afterAll(() => server?.close());

describe('the OpenAPI webhooks section', () => {
  it('lists every event type of the catalogue, with its body and the Standard Webhooks headers', () => {
    expect(Object.keys(webhooks).sort()).toEqual([...webhookEventTypes].sort());
    expect(webhookEventTypes).toHaveLength(16);
    for (const [type, op] of Object.entries(webhooks)) {
      const schema = op.post.requestBody.content['application/json'].schema;
      expect(Object.keys(schema.properties).sort(), type).toEqual([
        'data',
        'organizationId',
        'timestamp',
        'type',
      ]);
      expect(schema.properties.type!.const, type).toBe(type);
      expect(op.post.parameters.map((p) => p.name).sort()).toEqual([
        'webhook-id',
        'webhook-signature',
        'webhook-timestamp',
      ]);
    }
    expect(
      Object.keys(
        webhooks['member.added']!.post.requestBody.content['application/json'].schema.properties.data!
          .properties!,
      ).sort(),
    ).toEqual(['email', 'role', 'userId']);
  });
});
