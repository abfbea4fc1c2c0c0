import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import type { Logger } from '@woopdi/core';
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

type Line = { level: string; fields: Record<string, unknown>; msg: string };

/** Records what reaches the application logger, at level info (debug and trace disabled). */
function recordingLogger(lines: Line[]): Logger {
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, fields, msg });
  const logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    isLevelEnabled: (level: string) => !['debug', 'trace'].includes(level),
    child: () => logger,
  };
  return logger as unknown as Logger;
}

it('logs nothing per successful job, and one structured warning per failed attempt', async () => {
  const lines: Line[] = [];
  const transport = recordingTransport((_email, call) => {
    if (call === 1) throw new Error('provider unavailable');
  });
  const worker = await startWorker({
    ...deps,
    logger: recordingLogger(lines),
    mailTransport: transport,
    pollInterval: 100,
  });
  try {
    const { outboxId } = await signup(deps);
    const [job] = await waitFor(async () => {
      const rows = await jobRows(deps);
      return rows[0]?.last_error && rows[0].locked_at === null ? rows : undefined;
    }, 'the first attempt to fail');
    await deps.sql`update graphile_worker._private_jobs set run_at = now() where id = ${job!.id}`;
    await waitFor(async () => (await outboxRow(deps, outboxId)).status === 'sent', 'the retry to send');
  } finally {
    await worker.stop();
  }
  expect(lines).toEqual([
    {
      level: 'warn',
      fields: expect.objectContaining({
        task: 'send_email',
        attempt: 1,
        maxAttempts: 8,
        err: expect.any(Error),
      }),
      msg: expect.stringMatching(/^job send_email #\d+ failed \(attempt 1 of 8\); will retry$/),
    },
  ]);
});
