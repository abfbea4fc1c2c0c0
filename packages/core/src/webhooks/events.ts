// The outbound webhook event catalogue: every type an organization's endpoint can receive, with a
// zod schema for its `data`. The body of every delivery is `{ type, timestamp, organizationId, data }`
// (the Standard Webhooks payload shape); the OpenAPI document publishes the same schemas.
import { z } from 'zod';
import { uuid } from '../ids.js';

const role = z.enum(['ADMIN', 'MODERATOR', 'MEMBER']);

export const webhookEventSchemas = {
  'member.added': z.object({ userId: uuid(), email: z.string(), role }),
  'member.removed': z.object({
    userId: uuid(),
    reason: z.enum(['removed', 'left']).describe('removed by a manager, or left by themself'),
  }),
  'member.role_changed': z.object({ userId: uuid(), role, previousRole: role }),
  'invitation.created': z.object({ invitationId: uuid(), email: z.string(), role }),
  'invitation.accepted': z.object({ invitationId: uuid(), userId: uuid(), email: z.string(), role }),
  'invitation.revoked': z.object({ invitationId: uuid(), email: z.string() }),
  'organization.updated': z.object({ name: z.string() }),
  'organization.ownership_transferred': z.object({ previousOwnerUserId: uuid(), ownerUserId: uuid() }),
  'task.succeeded': z.object({ taskId: uuid(), kind: z.string() }),
  'task.failed': z.object({ taskId: uuid(), kind: z.string(), error: z.string().nullable() }),
  'asset.created': z.object({
    assetId: uuid(),
    filename: z.string(),
    contentType: z.string(),
    size: z.number().int(),
  }),
  'asset.deleted': z.object({ assetId: uuid() }),
  'subscription.updated': z.object({
    plan: z.string(),
    status: z.string().nullable(),
    seats: z.number().int(),
  }),
  'api_key.created': z.object({ apiKeyId: uuid(), name: z.string(), prefix: z.string(), role }),
  'api_key.revoked': z.object({ apiKeyId: uuid(), name: z.string(), prefix: z.string() }),
  'webhook.test': z.object({ webhookId: uuid(), message: z.string() }),
} as const;

export type WebhookEventType = keyof typeof webhookEventSchemas;
export type WebhookEventData<T extends WebhookEventType> = z.infer<(typeof webhookEventSchemas)[T]>;
export const webhookEventTypes = Object.keys(webhookEventSchemas) as WebhookEventType[];

const descriptions: Record<WebhookEventType, string> = {
  'member.added': 'Someone joined the organization (an invitation was accepted).',
  'member.removed': 'A member was removed, or left.',
  'member.role_changed': "A member's role changed.",
  'invitation.created': 'An invitation was sent (or re-sent to a pending email with a new link).',
  'invitation.accepted': 'An invitation was accepted.',
  'invitation.revoked': 'A pending invitation was revoked.',
  'organization.updated': 'The organization was renamed.',
  'organization.ownership_transferred': 'Ownership moved to another ADMIN.',
  'task.succeeded': 'A task finished successfully.',
  'task.failed': 'A task failed for good (its attempts are exhausted).',
  'asset.created': 'A file is ready (an upload completed, or a task stored one).',
  'asset.deleted': 'A file was deleted.',
  'subscription.updated': "The organization's subscription changed (plan, status or seats).",
  'api_key.created': 'An organization API key was created.',
  'api_key.revoked': 'An organization API key was revoked.',
  'webhook.test': 'Sent by webhooks.test to check an endpoint.',
};
export const webhookEventDescription = (type: WebhookEventType) => descriptions[type];

/** The JSON body of a delivery of `type`. */
export const webhookBodySchema = <T extends WebhookEventType>(type: T) =>
  z.object({
    type: z.literal(type),
    timestamp: z.iso.datetime({ offset: true }).describe('When the event happened'),
    organizationId: uuid(),
    data: webhookEventSchemas[type],
  });
