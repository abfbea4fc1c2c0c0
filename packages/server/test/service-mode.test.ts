// Service mode with real processes: 2 api and 2 worker processes (`node dist/main-*.js`, compiled)
// on one test database and the test Redis. What a user observes must not depend on the instance
// serving them (DESIGN §2, §7): task events, session revocation, role changes; and SIGTERM of an api
// or a worker process loses nothing (1012 close, in-flight request finished, job taken over).
import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { redisTestUrl } from '@woopdi/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from './helpers.js';
import {
  heartbeatIds,
  isolatedEnv,
  newWorkerId,
  restCall as rest,
  sleep,
  spawnEntry,
  until,
} from './processes.js';

// The SDK (a package that depends on this one, so not a dependency of it) is loaded from its source
// at run time; the specifier is not a literal, so the type checker does not pull it into this
// package's program (rootDir). What the tests use of it, typed here:
interface TaskEvent {
  seq: number;
  type: string;
  current?: number;
}
interface WoopdiClient {
  tasks: {
    follow(
      taskId: string,
      options: {
        onEvent(event: TaskEvent): void;
        onComplete?(terminal: TaskEvent | null): void;
        onError?(error: unknown): void;
      },
    ): { unsubscribe(): void };
  };
  close(): Promise<void>;
}
interface Sdk {
  createWoopdiClient(options: { url: string; tokens?: unknown; WebSocket?: unknown }): WoopdiClient;
}
const sdkEntry = new URL('../../sdk/src/index.ts', import.meta.url).href;

const redisUrl = redisTestUrl();

interface Proc {
  name: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const procs: Proc[] = [];

function spawnProcess(name: string, entry: string, env: Record<string, string>): Proc {
  const { child, output, exited } = spawnEntry(entry, isolatedEnv(env));
  const proc = { name, child, output, exited };
  procs.push(proc);
  return proc;
}

const running = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

async function exitWithin(p: Proc, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`${p.name} did not exit within ${ms} ms:\n${p.output()}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Generous: four processes start at once on a busy 2-core CI machine. */
const STARTUP_MS = 45_000;

async function waitHealthy(p: Proc, url: string) {
  await until(
    `${p.name} to answer /healthz`,
    async () => {
      if (!running(p)) throw new Error(`${p.name} exited:\n${p.output()}`);
      return fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    STARTUP_MS,
  );
}

/** A TCP proxy standing in for a load balancer: new connections go to whatever `target` is now. */
function startProxy(initial: number) {
  let target = initial;
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((client) => {
    const upstream = netConnect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // Ends (not destroys) the other side, so a close frame already written is still delivered.
    upstream.on('close', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    for (const s of [client, upstream]) s.on('close', () => sockets.delete(s));
  });
  return {
    listen: () =>
      new Promise<number>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
      ),
    retarget(port: number) {
      target = port;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const JWT_SECRET = 'service-mode-test-jwt-value-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(!redisUrl)('service mode: 2 api and 2 worker processes on one database and Redis', () => {
  let deps: TestDeps;
  const api: { proc: Proc; url: string; port: number }[] = [];
  const workers: { proc: Proc; poolId: string }[] = [];
  const clients: WoopdiClient[] = [];
  let proxy: ReturnType<typeof startProxy> | undefined;
  let createWoopdiClient: Sdk['createWoopdiClient'];

  const common = () => ({
    DATABASE_URL: deps.databaseUrl,
    REDIS_URL: redisUrl ?? '',
    JWT_SECRET,
    IS_PROD: 'false',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_LOGIN: '10000/60',
    RATE_LIMIT_SIGNUP: '10000/60',
    // Many tasks at once in one organization: the task quotas are tested in the api package.
    RATE_LIMIT_TASK_STARTS: '10000/60',
    PLAN_FREE_CONCURRENT_TASKS: '10000',
    WORKER_HEARTBEAT_MS: '200',
    WORKER_DEAD_AFTER_MS: '1500',
  });

  let counter = 0;
  async function signup(base: string) {
    const email = `svc-${process.pid}-${Date.now().toString(36)}-${++counter}@example.com`;
    const res = await rest<{ user: { id: string }; tokens: { accessToken: string } }>(
      base,
      'POST',
      '/auth/signup',
      undefined,
      {
        email,
        password: PASSWORD,
        name: 'Svc',
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return {
      email,
      userId: res.body.user.id as string,
      tokens: res.body.tokens,
      token: res.body.tokens.accessToken as string,
    };
  }

  async function startWorkerProcess(name: string) {
    const before = new Set(await heartbeatIds(deps.sql));
    const proc = spawnProcess(name, 'dist/main-worker.js', {
      ...common(),
      // Short: a job still running at SIGTERM is released soon for the other worker.
      SHUTDOWN_TIMEOUT_MS: '300',
    });
    // The graphile pool id this process locks jobs with, learned from its first heartbeat.
    const poolId = await newWorkerId(deps.sql, before, name, proc, STARTUP_MS);
    workers.push({ proc, poolId });
  }

  let owner: Awaited<ReturnType<typeof signup>>;
  let orgId: string;

  beforeAll(async () => {
    ({ createWoopdiClient } = (await import(sdkEntry)) as Sdk);
    deps = await createTestDeps();
    const ports = [await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      const proc = spawnProcess(`api-${i + 1}`, 'dist/main-api.js', {
        ...common(),
        PORT: String(port),
        SHUTDOWN_TIMEOUT_MS: '5000',
      });
      api.push({ proc, port, url: `http://127.0.0.1:${port}` });
    }
    // Workers one after the other, so each new heartbeat row tells which process holds which pool.
    const workersStarted = (async () => {
      await startWorkerProcess('worker-1');
      await startWorkerProcess('worker-2');
    })();
    await Promise.all(api.map((a) => waitHealthy(a.proc, a.url)));
    owner = await signup(api[0]!.url);
    const org = await rest<{ id: string }>(
      api[0]!.url,
      'POST',
      '/organizations/create-organization',
      owner.token,
      {
        name: 'Service Mode Team',
      },
    );
    expect(org.status, JSON.stringify(org.body)).toBe(200);
    orgId = org.body.id;
    await workersStarted;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    proxy?.close();
    // Graceful first (SIGTERM), then nothing may outlive the test.
    for (const p of procs) if (running(p)) p.child.kill('SIGTERM');
    await Promise.all(
      procs.map((p) =>
        Promise.race([p.exited, sleep(5_000)]).then(() => {
          if (running(p)) p.child.kill('SIGKILL');
        }),
      ),
    );
    await deps?.close();
  }, 30_000);

  function sdk(url: string, tokens: unknown, WebSocketClass: typeof WebSocket = WebSocket) {
    const client = createWoopdiClient({ url, tokens, WebSocket: WebSocketClass });
    clients.push(client);
    return client;
  }

  function follow(client: WoopdiClient, taskId: string) {
    const events: TaskEvent[] = [];
    const done = new Promise<TaskEvent | null>((resolve, reject) => {
      client.tasks.follow(taskId, { onEvent: (e) => events.push(e), onComplete: resolve, onError: reject });
    });
    return { events, done };
  }

  async function startTask(base: string, steps: number, intervalMs: number): Promise<string> {
    const res = await rest<{ taskId: string }>(base, 'POST', `/organizations/${orgId}/tasks`, owner.token, {
      kind: 'example_streaming',
      input: { steps, intervalMs },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.taskId;
  }

  async function storedEvents(taskId: string) {
    return deps.sql<{ seq: number; type: string; payload: { current?: number } }[]>`
      select seq, type, payload from task_events where task_id = ${taskId} order by seq`;
  }

  const expectComplete = (events: { seq: number; type: string }[]) => {
    expect(events.map((e) => e.seq)).toEqual(range(1, events.length));
    expect(events.filter((e) => e.type === 'task_end')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('task_end');
  };

  it('a subscriber on api-1 gets every event of a task started through api-2, in order', async () => {
    const taskId = await startTask(api[1]!.url, 15, 60);
    const client = sdk(api[0]!.url, owner.tokens);
    const followed = follow(client, taskId);
    const terminal = await Promise.race([
      followed.done,
      sleep(20_000).then(() => {
        throw new Error(`the stream did not end: ${JSON.stringify(followed.events.map((e) => e.seq))}`);
      }),
    ]);
    expect(terminal?.type).toBe('task_end');
    expectComplete(followed.events);
    expect(followed.events.filter((e) => e.type === 'progress').map((e) => e.current)).toEqual(range(1, 15));
    expect(followed.events.map((e) => e.seq)).toEqual((await storedEvents(taskId)).map((e) => e.seq));
  });

  it('a session revoked through api-1 is refused by api-2 within 1 s', async () => {
    const user = await signup(api[0]!.url);
    // Warm api-2's cache with this session first.
    expect((await rest(api[1]!.url, 'GET', '/user/me', user.token)).status).toBe(200);
    expect((await rest(api[1]!.url, 'GET', '/user/me', user.token)).status).toBe(200);
    const out = await rest(api[0]!.url, 'POST', '/auth/logout', user.token, {});
    expect(out.status, JSON.stringify(out.body)).toBe(200);
    const revokedAt = performance.now();
    let status = 200;
    while (status === 200 && performance.now() - revokedAt < 3_000) {
      status = (await rest(api[1]!.url, 'GET', '/user/me', user.token)).status;
    }
    const elapsed = performance.now() - revokedAt;
    console.info(`service-mode: revocation reached api-2 after ${elapsed.toFixed(1)} ms`);
    expect(status).toBe(401);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('a role changed through api-2 is enforced by api-1 on the next request', async () => {
    const member = await signup(api[0]!.url);
    await deps.sql`
      insert into memberships (organization_id, user_id, role) values (${orgId}, ${member.userId}, 'MODERATOR')`;
    // MODERATOR-only; this also puts the membership in api-1's cache.
    expect((await rest(api[0]!.url, 'GET', `/organization-users/${orgId}`, member.token)).status).toBe(200);
    expect((await rest(api[0]!.url, 'GET', `/organization-users/${orgId}`, member.token)).status).toBe(200);
    const demoted = await rest(
      api[1]!.url,
      'PUT',
      `/organization-users/${orgId}/${member.userId}`,
      owner.token,
      {
        role: 'MEMBER',
      },
    );
    expect(demoted.status, JSON.stringify(demoted.body)).toBe(200);
    expect(demoted.body.role).toBe('MEMBER');
    expect((await rest(api[0]!.url, 'GET', `/organization-users/${orgId}`, member.token)).status).toBe(403);
    // Still a member: member-level reads keep working on both instances.
    expect((await rest(api[0]!.url, 'GET', `/organizations/${orgId}`, member.token)).status).toBe(200);
    expect((await rest(api[1]!.url, 'GET', `/organization-users/${orgId}`, member.token)).status).toBe(403);
  });

  it('SIGTERM of api-1: the in-flight request completes, sockets close with 1012, the SDK resumes on api-2', async () => {
    const [api1, api2] = [api[0]!, api[1]!];
    proxy = startProxy(api1.port);
    const proxyPort = await proxy.listen();
    const sockets: { url: string; closeCode?: number }[] = [];
    class RecordingWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols);
        const record: { url: string; closeCode?: number } = { url: String(address) };
        sockets.push(record);
        this.on('close', (code) => {
          record.closeCode = code;
        });
      }
    }
    const taskId = await startTask(api2.url, 40, 100);
    const client = sdk(`http://127.0.0.1:${proxyPort}`, owner.tokens, RecordingWebSocket as typeof WebSocket);
    const followed = follow(client, taskId);
    await until('a few events through api-1', async () => followed.events.length >= 8, 15_000);

    // A request in flight at SIGTERM: headers and half the body sent, the rest after the signal.
    const body = JSON.stringify({ email: owner.email, password: PASSWORD });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: api1.port,
          method: 'POST',
          path: '/api/auth/login',
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      req.write(body.slice(0, 10));
      (async () => {
        await sleep(300); // the server has the request by now
        proxy?.retarget(api2.port); // the load balancer takes api-1 out
        api1.proc.child.kill('SIGTERM');
        await sleep(500); // api-1 is shutting down, with this request unfinished
        req.end(body.slice(10));
      })().catch(reject);
    });

    const done = await response;
    expect(done.status, done.body).toBe(200);
    expect(JSON.parse(done.body).tokens.accessToken).toEqual(expect.any(String));

    const exit = await exitWithin(api1.proc, 10_000);
    expect(exit.signal).toBeNull();
    expect(exit.code, api1.proc.output()).toBe(0);

    const terminal = await Promise.race([
      followed.done,
      sleep(20_000).then(() => {
        throw new Error(`the stream did not end: ${JSON.stringify(followed.events.map((e) => e.seq))}`);
      }),
    ]);
    expect(terminal?.type).toBe('task_end');
    // The first connection (to api-1) was closed by the server with 1012; a later one served the rest.
    expect(sockets.length, JSON.stringify(sockets)).toBeGreaterThanOrEqual(2);
    expect(sockets[0]!.closeCode, JSON.stringify(sockets)).toBe(1012);
    expectComplete(followed.events);
    expect(followed.events.filter((e) => e.type === 'progress').map((e) => e.current)).toEqual(range(1, 40));
    expect(followed.events.map((e) => e.seq)).toEqual((await storedEvents(taskId)).map((e) => e.seq));
  }, 45_000);

  it('SIGTERM of a worker mid-task: the other worker completes it, with exactly one task_end', async () => {
    const base = api[1]!.url; // api-1 was stopped above
    const steps = 40;
    const taskId = await startTask(base, steps, 100);
    // Running, a few steps in, on one of the workers: find which by its pool's lock on the job.
    const lockedBy = await until('the task to be running a few steps in', async () => {
      const [row] = await deps.sql<{ locked_by: string | null; last_seq: number }[]>`
        select j.locked_by, t.last_seq from tasks t
        left join graphile_worker._private_jobs j on j.payload->>'taskId' = t.id::text
        where t.id = ${taskId}`;
      return row && row.last_seq >= 5 && row.locked_by ? row.locked_by : undefined;
    });
    const victim = workers.find((w) => w.poolId === lockedBy);
    expect(
      victim,
      `no worker process holds pool ${lockedBy}: ${JSON.stringify(workers.map((w) => w.poolId))}`,
    ).toBeDefined();
    victim!.proc.child.kill('SIGTERM');
    const exit = await exitWithin(victim!.proc, 10_000);
    expect(exit.signal).toBeNull();
    expect(exit.code, victim!.proc.output()).toBe(0);
    const [afterExit] = await deps.sql<{ status: string }[]>`select status from tasks where id = ${taskId}`;
    expect(afterExit!.status).not.toBe('succeeded');

    const status = await until(
      'the task to finish on the other worker',
      async () => {
        const [row] = await deps.sql<{ status: string }[]>`select status from tasks where id = ${taskId}`;
        return row && row.status !== 'queued' && row.status !== 'running' ? row.status : undefined;
      },
      30_000,
    );
    expect(status).toBe('succeeded');
    const events = await storedEvents(taskId);
    expectComplete(events);
    // Resumed after the last reported step: every step reported once.
    expect(events.filter((e) => e.type === 'progress').map((e) => e.payload.current)).toEqual(
      range(1, steps),
    );
    const other = workers.find((w) => w !== victim)!;
    expect(running(other.proc), other.proc.output()).toBe(true);
  }, 45_000);
});
