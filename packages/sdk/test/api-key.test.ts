// createWoopdiClient({ apiKey }): a backend acting for an organization without a user. The key goes
// out on every HTTP call and in the websocket's connection params, is never refreshed, and a
// revoked key is refused.

import { TRPCClientError } from '@trpc/client';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../src/index.js';
import { closeClients, harness, PASSWORD, startServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;
let worker: WorkerHandle;

beforeAll(async () => {
  server = await startServer();
  worker = await startWorker({ ...server.deps, pollInterval: 50 });
});
afterAll(async () => {
  await closeClients();
  await worker?.stop();
  await server?.close();
});

describe('createWoopdiClient({ apiKey })', () => {
  it('calls over HTTP and follows a task over the websocket as its organization; a revoked key is refused', async () => {
    const { client: owner } = harness(server);
    await owner.signup({ email: uniqueEmail('keyowner'), password: PASSWORD });
    const org = await owner.api.organizations.create.mutate({ name: 'SDK Key Org' });
    const { key, apiKey } = await owner.api.apiKeys.create.mutate({
      organizationId: org.id,
      name: 'backend',
      role: 'MEMBER',
    });

    const machine = harness(server, { apiKey: key });
    expect((await machine.client.api.organizations.get.query({ organizationId: org.id })).id).toBe(org.id);
    const { taskId } = await machine.client.api.tasks.start.mutate({
      organizationId: org.id,
      kind: 'example_streaming',
      input: { steps: 2, intervalMs: 10 },
    });
    const events: TaskEvent[] = [];
    const terminal = await new Promise<TaskEvent | null>((resolve, reject) => {
      machine.client.tasks.follow(taskId, {
        onEvent: (e) => events.push(e),
        onComplete: resolve,
        onError: reject,
      });
    });
    expect(terminal?.type).toBe('task_end');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    const userOnly = await machine.client.api.users.me.query().catch((e: unknown) => e);
    expect(userOnly).toBeInstanceOf(TRPCClientError);
    expect((userOnly as TRPCClientError<never>).message).toContain('API keys act for an organization');

    await owner.api.apiKeys.revoke.mutate({ organizationId: org.id, apiKeyId: apiKey.id });
    const refused = await machine.client.api.organizations.get
      .query({ organizationId: org.id })
      .catch((e: unknown) => e);
    expect((refused as { data?: { code?: string } }).data?.code).toBe('UNAUTHORIZED');
    // Never refreshed: an API key has no refresh token.
    expect(machine.refreshes()).toBe(0);
    expect(machine.tokenChanges).toEqual([]);
  });
});
