import { randomBytes } from 'node:crypto';
import { callerFor, type TestDeps } from '@woopdi/api/testing';
import type { MailTransport, OutgoingEmail } from '@woopdi/core';
import { emailOutbox } from '@woopdi/db';
import { eq } from 'drizzle-orm';

/** A real MailTransport that records what it was asked to send; `behaviour` decides each send. */
export interface RecordingTransport extends MailTransport {
  /** Every call, in order, including the ones that failed. */
  calls: OutgoingEmail[];
  /** The emails whose send completed. */
  sent: OutgoingEmail[];
}

export function recordingTransport(
  behaviour: (email: OutgoingEmail, call: number) => Promise<void> | void = () => {},
): RecordingTransport {
  const calls: OutgoingEmail[] = [];
  const sent: OutgoingEmail[] = [];
  return {
    name: 'recording',
    calls,
    sent,
    async send(email) {
      calls.push(email);
      await behaviour(email, calls.length);
      sent.push(email);
      return { providerId: `rec-${sent.length}` };
    },
  };
}

/** Polls `check` until it returns a truthy value (which it returns), or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  what: string,
  timeoutMs = 10_000,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const uniqueEmail = () => `user-${randomBytes(4).toString('hex')}@example.test`;

/** Signs a new user up through the real API; the signup transaction queues the verification email. */
export async function signup(deps: TestDeps, email = uniqueEmail()) {
  await callerFor(deps).auth.signup({ email, password: 'correct horse battery' });
  const [row] = await deps.db.select().from(emailOutbox).where(eq(emailOutbox.to, email));
  if (!row) throw new Error(`signup queued no email for ${email}`);
  return { email, outboxId: row.id };
}

export const outboxRow = async (deps: TestDeps, id: string) =>
  (await deps.db.select().from(emailOutbox).where(eq(emailOutbox.id, id)))[0]!;

/** graphile-worker's row for the jobs of a task, with the fields its public view hides. */
export async function jobRows(deps: TestDeps, task = 'send_email') {
  return deps.sql<
    Array<{
      id: string;
      attempts: number;
      max_attempts: number;
      last_error: string | null;
      locked_at: string | null;
      retry_scheduled: boolean;
    }>
  >`
    select j.id::text as id, j.attempts, j.max_attempts, j.last_error, j.locked_at, j.run_at > now() as retry_scheduled
    from graphile_worker._private_jobs j
    join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = ${task}
    order by j.id`;
}
