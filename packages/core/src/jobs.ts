// Job contracts shared by the api (which enqueues) and the worker (which validates and runs).
import type { DbOrTx } from '@woopdi/db';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { uuid } from './ids.js';

export const jobPayloads = {
  send_email: z.object({ outboxId: uuid() }),
  /** Runs one row of `tasks`; attempts come from the task kind. */
  run_task: z.object({ taskId: uuid() }),
  /** Processes one stored Stripe webhook event (stripe_events.id). */
  stripe_event: z.object({ eventId: z.string().min(1) }),
  /** Nightly: re-syncs every active subscription from Stripe and logs drift. */
  billing_reconcile: z.object({}).passthrough(),
  /** Cancels a deleted organization's Stripe subscription (after the delete commits; Stripe may be down). */
  stripe_cancel_subscription: z.object({ organizationId: uuid(), subscriptionId: z.string().min(1) }),
  /** Hourly: removes pending uploads older than 24 h and the files of deleted organizations. */
  assets_cleanup: z.object({}).passthrough(),
  /** Sends one outbound webhook delivery (webhook_deliveries.id); schedules its own retries. */
  webhook_deliver: z.object({ deliveryId: uuid() }),
} as const;

export type JobName = keyof typeof jobPayloads;
export type JobPayload<N extends JobName> = z.infer<(typeof jobPayloads)[N]>;

export interface EnqueueOptions {
  maxAttempts?: number;
  /** graphile-worker job key: a second job with the same key replaces the pending one. */
  jobKey?: string;
  runAt?: Date;
}

export const defaultMaxAttempts: Record<JobName, number> = {
  send_email: 8,
  run_task: 3,
  stripe_event: 10,
  billing_reconcile: 3,
  stripe_cancel_subscription: 10,
  assets_cleanup: 3,
  webhook_deliver: 5,
};

/**
 * Adds a graphile-worker job inside the caller's transaction: the job exists if and only if the
 * change that caused it commits.
 */
export async function enqueueJob<N extends JobName>(
  tx: DbOrTx,
  name: N,
  payload: JobPayload<N>,
  options: EnqueueOptions = {},
): Promise<void> {
  const parsed = jobPayloads[name].parse(payload);
  await tx.execute(sql`select graphile_worker.add_job(
    identifier => ${name}::text,
    payload => ${JSON.stringify(parsed)}::json,
    max_attempts => ${options.maxAttempts ?? defaultMaxAttempts[name]}::int,
    job_key => ${options.jobKey ?? null}::text,
    run_at => ${options.runAt?.toISOString() ?? null}::timestamptz
  )`);
}
