// send_email: delivers one email_outbox row. deliverEmail marks the row sent (idempotent once sent)
// or failed and rethrows, so a provider error is retried with graphile-worker's backoff.
import { deliverEmail } from '@woopdi/core';
import { defineTask } from './define.js';

export const sendEmail = defineTask('send_email', async ({ outboxId }, { db, mailTransport }) => {
  await deliverEmail(db, mailTransport, outboxId);
});
