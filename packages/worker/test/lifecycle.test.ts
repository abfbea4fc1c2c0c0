import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startWorker } from '../src/index.js';
import { jobRows, outboxRow, recordingTransport, signup, waitFor } from './helpers.js';

let deps: TestDeps;

beforeEach(async () => {
  deps = await createTestDeps();
});
afterEach(async () => {
  await deps.close();
});

it('stop() lets an in-flight job finish, and is idempotent', async () => {
  let entered!: () => void;
  const sending = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const transport = recordingTransport(async () => {
    entered();
    await new Promise((r) => setTimeout(r, 300));
  });
  const worker = await startWorker({ ...deps, mailTransport: transport });
  const { outboxId } = await signup(deps);
  await sending;
  expect(transport.sent).toHaveLength(0);

  const first = worker.stop();
  const second = worker.stop();
  expect(second).toBe(first);
  await first;

  expect(transport.sent).toHaveLength(1);
  expect(await outboxRow(deps, outboxId)).toMatchObject({ status: 'sent', attempts: 1 });
  expect(await jobRows(deps)).toHaveLength(0);
  await worker.stop();
  await worker.runner.promise;
});

it('a stopped worker takes no new jobs; the next worker does', async () => {
  const first = recordingTransport();
  const worker = await startWorker({ ...deps, mailTransport: first });
  await worker.stop();
  const { outboxId } = await signup(deps);
  await new Promise((r) => setTimeout(r, 200));
  expect(first.calls).toHaveLength(0);
  expect((await outboxRow(deps, outboxId)).status).toBe('pending');

  const second = recordingTransport();
  const next = await startWorker({ ...deps, mailTransport: second });
  try {
    await waitFor(async () => (await outboxRow(deps, outboxId)).status === 'sent', 'the next worker to send');
    expect(second.sent).toHaveLength(1);
  } finally {
    await next.stop();
  }
});
