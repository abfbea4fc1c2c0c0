// Enqueuing webhook events: inside the transaction of the change, one delivery row per enabled
// endpoint of the organization that wants the type, and one webhook_deliver job per row — they
// exist if and only if the change commits.
import { randomBytes } from 'node:crypto';
import type { DbOrTx } from '@woopdi/db';
import { sql } from 'drizzle-orm';
import { type WebhookEventData, type WebhookEventType, webhookEventSchemas } from './events.js';

/**
 * graphile-worker's own retries of a delivery job cover the job failing (the database down), not the
 * receiver failing: those attempts are scheduled by the job itself, with jitter (see the worker).
 */
export const WEBHOOK_JOB_MAX_ATTEMPTS = 5;

/** A new signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The delivery body, exactly as it is signed and sent. */
export function webhookBody<T extends WebhookEventType>(
  type: T,
  organizationId: string,
  data: WebhookEventData<T>,
  at = new Date(),
): string {
  const parsed = webhookEventSchemas[type].parse(data);
  return JSON.stringify({ type, timestamp: at.toISOString(), organizationId, data: parsed });
}

/**
 * Records `type` for every enabled endpoint of `organizationId` that selected it (or all types),
 * and enqueues their deliveries. `endpointId` limits it to one endpoint (webhooks.test). Answers the
 * delivery ids.
 */
export async function emitWebhookEvent<T extends WebhookEventType>(
  tx: DbOrTx,
  organizationId: string,
  type: T,
  data: WebhookEventData<T>,
  options: { endpointId?: string } = {},
): Promise<string[]> {
  const body = webhookBody(type, organizationId, data);
  const rows = await tx.execute<{ id: string }>(sql`
    with inserted as (
      insert into webhook_deliveries (endpoint_id, organization_id, event_type, body, next_attempt_at)
      select e.id, e.organization_id, ${type}::text, ${body}::text, now()
      from webhook_endpoints e
      where e.organization_id = ${organizationId}::uuid
        and e.enabled
        and (${options.endpointId ?? null}::uuid is null
          and (cardinality(e.event_types) = 0 or ${type}::text = any(e.event_types))
          or e.id = ${options.endpointId ?? null}::uuid)
      returning id
    )
    select i.id, graphile_worker.add_job(
      identifier => 'webhook_deliver',
      payload => json_build_object('deliveryId', i.id),
      max_attempts => ${WEBHOOK_JOB_MAX_ATTEMPTS}::int,
      job_key => 'webhook_delivery:' || i.id
    ) from inserted i`);
  return [...rows].map((r) => r.id);
}
