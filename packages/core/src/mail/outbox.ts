import { type Db, type DbOrTx, emailOutbox } from '@woopdi/db';
import { eq, sql } from 'drizzle-orm';
import { enqueueJob } from '../jobs.js';
import { type EmailPayload, type EmailTemplate, renderEmail } from './templates.js';
import type { MailTransport } from './transport.js';

export interface QueuedEmail<T extends EmailTemplate = EmailTemplate> {
  to: string;
  template: T;
  payload: EmailPayload<T>;
}

/**
 * Records an email in the outbox and enqueues its send_email job inside the caller's transaction,
 * so the email exists if and only if the change that caused it commits; the worker delivers it.
 */
export async function queueEmail<T extends EmailTemplate>(
  tx: DbOrTx,
  email: QueuedEmail<T>,
): Promise<string> {
  const rendered = renderEmail(email.template, email.payload);
  const [row] = await tx
    .insert(emailOutbox)
    .values({ to: email.to, template: email.template, subject: rendered.subject, payload: email.payload })
    .returning({ id: emailOutbox.id });
  await enqueueJob(tx, 'send_email', { outboxId: row!.id });
  return row!.id;
}

/** Sends one outbox row through the transport; idempotent once the row is `sent`. */
export async function deliverEmail(db: Db, transport: MailTransport, outboxId: string): Promise<void> {
  const row = await db.query.emailOutbox.findFirst({ where: eq(emailOutbox.id, outboxId) });
  if (!row || row.status === 'sent') return;
  const rendered = renderEmail(row.template as EmailTemplate, row.payload);
  try {
    const { providerId } = await transport.send({ to: row.to, outboxId: row.id, ...rendered });
    await db
      .update(emailOutbox)
      .set({
        status: 'sent',
        providerId,
        sentAt: new Date(),
        attempts: sql`${emailOutbox.attempts} + 1`,
        lastError: null,
      })
      .where(eq(emailOutbox.id, outboxId));
  } catch (error) {
    await db
      .update(emailOutbox)
      .set({
        status: 'failed',
        attempts: sql`${emailOutbox.attempts} + 1`,
        lastError: String(error).slice(0, 1000),
      })
      .where(eq(emailOutbox.id, outboxId));
    throw error;
  }
}
