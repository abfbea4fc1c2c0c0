import { callerFor, createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWorker, type WorkerHandle } from '../src/index.js';
import { uniqueEmail, waitFor } from './helpers.js';

let deps: TestDeps;
let worker: WorkerHandle;
beforeAll(async () => {
  deps = await createTestDeps();
  worker = await startWorker({ ...deps, pollInterval: 100 });
});
afterAll(async () => {
  await worker.stop();
  await deps.close();
});

it('runs example_streaming end to end', async () => {
  const { tokens } = await callerFor(deps).auth.signup({
    email: uniqueEmail(),
    password: 'correct horse battery',
  });
  const api = callerFor(deps, tokens.accessToken);
  const org = await api.organizations.create({ name: 'Tasks' });
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'example_streaming',
    input: { steps: 5, intervalMs: 10 },
  });
  const stream = await api.tasks.events({ taskId });
  const got: unknown[] = [];
  for await (const e of stream as AsyncIterable<unknown>) got.push(e);
  const task = await waitFor(async () => {
    const t = await api.tasks.get({ taskId });
    return t.status === 'succeeded' && t;
  }, 'task success');
  expect(task.progress).toBe(1);
  expect(got.length).toBe(7);
});
