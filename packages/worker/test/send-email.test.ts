import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { queuedJobs } from '@woopdi/db/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMailTransport, startWorker, type WorkerHandle, type WorkerOptions } from '../src/index.js';
import { jobRows, outboxRow, recordingTransport, signup, waitFor } from './helpers.js';

let deps: TestDeps;
let worker: WorkerHandle | undefined;

beforeEach(async () => {
  deps = await createTestDeps();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await deps.close();
});

const start = async (options: Partial<WorkerOptions> = {}) => {
  worker = await startWorker({ ...deps, pollInterval: 100, ...options });
  return worker;
};

describe('send_email', () => {
  it('delivers the verification email queued by signup, once, and removes the job', async () => {
    const transport = recordingTransport();
    await start({ mailTransport: transport });
    const { email, outboxId } = await signup(deps);

    const row = await waitFor(async () => {
      const r = await outboxRow(deps, outboxId);
      return r.status === 'sent' && r;
    }, 'the outbox row to be sent');
    expect(row).toMatchObject({ status: 'sent', attempts: 1, providerId: 'rec-1', lastError: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(transport.sent).toHaveLength(1);
    expect(transport.sent[0]).toMatchObject({ to: email, outboxId, subject: 'Confirm your Woopdi account' });
    expect(transport.sent[0]!.text).toContain('http://app.test/confirm-email?token=');
    await waitFor(
      async () => (await queuedJobs(deps.sql, 'send_email')).length === 0,
      'the job to leave the queue',
    );
  });

  it('retries a failing transport and sends exactly once', async () => {
    const transport = recordingTransport((_email, call) => {
      if (call <= 2) throw new Error(`provider unavailable (call ${call})`);
    });
    await start({ mailTransport: transport });
    const { outboxId } = await signup(deps);

    for (const attempt of [1, 2]) {
      // graphile-worker has recorded the failure: unlocked, attempts counted, retry scheduled.
      const [job] = await waitFor(async () => {
        const rows = await jobRows(deps);
        return rows[0]?.attempts === attempt && rows[0].locked_at === null && rows[0].last_error
          ? rows
          : undefined;
      }, `failed attempt ${attempt}`);
      expect(job!.last_error).toContain(`provider unavailable (call ${attempt})`);
      expect(job!.retry_scheduled).toBe(true);
      expect(await outboxRow(deps, outboxId)).toMatchObject({ status: 'failed', attempts: attempt });
      // Skip the exponential backoff (e^attempts seconds) instead of waiting for it.
      await deps.sql`update graphile_worker._private_jobs set run_at = now() where id = ${job!.id}`;
    }

    const row = await waitFor(async () => {
      const r = await outboxRow(deps, outboxId);
      return r.status === 'sent' && r;
    }, 'the third attempt to send');
    expect(row).toMatchObject({ status: 'sent', attempts: 3, lastError: null });
    expect(transport.calls).toHaveLength(3);
    expect(transport.sent).toHaveLength(1);
    await waitFor(async () => (await jobRows(deps)).length === 0, 'the job to leave the queue');
  });

  it('fails a job with an invalid payload visibly, without calling the transport', async () => {
    const transport = recordingTransport();
    await start({ mailTransport: transport });
    await deps.sql`select graphile_worker.add_job('send_email', '{"outboxId":"nope"}'::json)`;

    const [job] = await waitFor(async () => {
      const rows = await jobRows(deps);
      return rows[0]?.last_error ? rows : undefined;
    }, 'the job to fail');
    expect(job!.attempts).toBe(1);
    expect(job!.last_error).toMatch(/^send_email job \d+ has an invalid payload: outboxId: /);
    expect(job!.last_error).toMatch(/uuid/i);
    expect(transport.calls).toHaveLength(0);
  });

  it('without SendGrid settings delivers through the outbox log transport', async () => {
    expect(createMailTransport(deps.config, deps.logger).name).toBe('outbox');
    await start();
    const { outboxId } = await signup(deps);
    const row = await waitFor(async () => {
      const r = await outboxRow(deps, outboxId);
      return r.status === 'sent' && r;
    }, 'the outbox row to be sent');
    expect(row).toMatchObject({ attempts: 1, providerId: null });
  });
});
