// `pnpm bench:tasks`: Woopdi's task pipeline beside raw graphile-worker, measured in one run, every
// figure printed with its ratio to the baseline (DESIGN §10, issue #12).
//
// Woopdi: the api and the worker in service mode as separate processes (the compiled runtime when it
// is built, see pipeline/processes.ts), real PostgreSQL and Redis, driven over HTTP and websockets:
//   latency  `POST /api/organizations/{id}/tasks` (example_streaming, 1 step, intervalMs 0) sent →
//            first event on `/tasks/{id}/ws`, opened as soon as the POST answers; tasks one at a time;
//   online   CLIENTS clients, each starting a task and following it to task_end, then the next;
//   drain    a backlog of tasks queued with the worker stopped, every one followed by a websocket,
//            then the worker started: first event → last task_end.
//            Then the same again with the worker's local queue on (WORKER_LOCAL_QUEUE = its concurrency:
//            one query fetches a batch), an extra row beside the default.
//   Every followed task must deliver seq 1, 2, 3 (task_start, progress, task_end) exactly once, in
//   order, and close with 1000; the run fails otherwise.
// Baseline: raw graphile-worker in its own process (pipeline/raw-graphile-worker.ts), a trivial task
// that publishes to Redis, the same concurrency; the load client adds jobs with graphile's own
// WorkerUtils and listens with a Redis subscriber:
//   latency  addJob called → message at the subscriber;   online  CLIENTS clients, each adding a job
//   and awaiting its message;   drain  a backlog added with the worker stopped, first → last message.
// The online phase also reports CPU per task (user + system from /proc) of each process role: the
// system's own processes, PostgreSQL's backends, Redis and this load client — where a task's cost goes.
// A warm-up of each system first, then ROUNDS rounds alternating which system goes first. This
// process is the load client only; every server is a child process.
//
// Sizes (defaults are the documented benchmark; the variables serve quick smoke runs):
//   BENCH_LATENCY_TASKS=200 BENCH_TASKS=2000 BENCH_DRAIN_TASKS=2000 BENCH_CLIENTS=16 BENCH_ROUNDS=2
//   BENCH_WARMUP=20, WORKER_CONCURRENCY (default: Woopdi's default, 16, for both)
// Environment: BENCH_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres: scratch databases
// are created and dropped), REDIS_URL (default redis://127.0.0.1:6379), BENCH_SOURCE=1 (run the
// TypeScript sources even when dist/ is built).
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Logger as GraphileLogger, makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import WebSocket from 'ws';
import {
  cpuBetween,
  cpuSnapshot,
  createRedis,
  freePort,
  here,
  intEnv,
  mean,
  ms,
  quantile,
  type ScratchDatabase,
  scratchDatabase,
  seedAccount,
  spawnNode,
  startApi,
  startWorkerProcess,
  stopProcess,
  table,
  waitForLine,
  woopdiEntry,
} from './pipeline/processes.js';

const LATENCY = intEnv('BENCH_LATENCY_TASKS', 200);
const ONLINE = intEnv('BENCH_TASKS', 2_000);
const DRAIN = intEnv('BENCH_DRAIN_TASKS', 2_000);
const CLIENTS = intEnv('BENCH_CLIENTS', 16);
const ROUNDS = Math.max(1, intEnv('BENCH_ROUNDS', 2));
const WARMUP = intEnv('BENCH_WARMUP', 20);
const CONCURRENCY = intEnv('WORKER_CONCURRENCY', 16);

interface Figures {
  system: 'raw graphile-worker' | 'Woopdi';
  round: number;
  latencies: number[];
  onlinePerSecond: number;
  drainPerSecond: number;
  /** Woopdi: the same drain with the worker's local queue on (WORKER_LOCAL_QUEUE = concurrency). */
  drainLocalQueuePerSecond?: number;
  /** CPU milliseconds per online task, per process role (servers, PostgreSQL, Redis, this client). */
  onlineCpu: Record<string, number>;
  /** Woopdi: how long the POST took, and the websocket open after it answered. */
  posts?: number[];
  opens?: number[];
}

/**
 * Where the CPU of the online phase goes, besides each system's own processes: every PostgreSQL
 * and Redis process of the machine (the benchmark's only users during a run) and this load client.
 */
const sharedRoles = { postgres: 'postgres', redis: 'redis-server', client: process.pid };
const perTask = (cpuMs: Record<string, number>, tasks: number) =>
  Object.fromEntries(Object.entries(cpuMs).map(([role, total]) => [role, total / tasks]));

/** Runs `n` jobs from CLIENTS concurrent loops; `one` does a job and returns when it is done. */
async function clients(n: number, one: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CLIENTS, n) }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

// --- raw graphile-worker ------------------------------------------------------------------------

interface Raw {
  db: ScratchDatabase;
  utils: WorkerUtils;
  worker: ChildProcess | undefined;
  /** Resolves the waiter of job `i` when its message arrives. */
  waiters: Map<number, (at: number) => void>;
  counter: number;
  /** Starts the worker process (after a stop, for the drain). */
  start(): Promise<void>;
  close(): Promise<void>;
}

async function rawSetup(): Promise<Raw> {
  const db = await scratchDatabase('raw', false);
  const channel = `bench:raw:${process.pid}`;
  const env = { DATABASE_URL: db.url, BENCH_CHANNEL: channel, WORKER_CONCURRENCY: String(CONCURRENCY) };
  const subscriber = createRedis();
  const raw: Raw = {
    db,
    utils: await makeWorkerUtils({ connectionString: db.url, logger: new GraphileLogger(() => () => {}) }),
    worker: undefined,
    waiters: new Map(),
    counter: 0,
    async start() {
      raw.worker = spawnNode(['--import', 'tsx', `${here}raw-graphile-worker.ts`], env);
      await waitForLine(raw.worker, /^ready$/);
    },
    async close() {
      await stopProcess(raw.worker);
      await raw.utils.release();
      await subscriber.quit();
      // graphile's pool ends its clients asynchronously: let it finish before the database goes.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await db.drop();
    },
  };
  await raw.utils.migrate();
  subscriber.on('message', (_channel, message) => {
    const at = performance.now();
    const i = Number(message);
    raw.waiters.get(i)?.(at);
    raw.waiters.delete(i);
  });
  await subscriber.subscribe(channel);
  await raw.start();
  return raw;
}

async function rawJob(raw: Raw): Promise<number> {
  const i = raw.counter++;
  const arrived = new Promise<number>((resolve) => raw.waiters.set(i, resolve));
  const t0 = performance.now();
  await raw.utils.addJob('bench_raw', { i });
  return (await arrived) - t0;
}

async function rawRound(raw: Raw, round: number, sizes = { latency: LATENCY, online: ONLINE, drain: DRAIN }) {
  const latencies: number[] = [];
  for (let i = 0; i < sizes.latency; i++) latencies.push(await rawJob(raw));

  const roles = { worker: raw.worker!.pid!, ...sharedRoles };
  const c0 = cpuSnapshot(roles);
  const o0 = performance.now();
  await clients(sizes.online, async () => void (await rawJob(raw)));
  const onlinePerSecond = sizes.online / ((performance.now() - o0) / 1000);
  const onlineCpu = perTask(cpuBetween(c0, cpuSnapshot(roles)), sizes.online);

  // Drain: the backlog is added while no worker runs, then one starts.
  await stopProcess(raw.worker);
  const first = raw.counter;
  raw.counter += sizes.drain;
  const all = Promise.all(
    Array.from({ length: sizes.drain }, (_, k) => new Promise<number>((r) => raw.waiters.set(first + k, r))),
  );
  await raw.utils.addJobs(
    Array.from({ length: sizes.drain }, (_, k) => ({ identifier: 'bench_raw', payload: { i: first + k } })),
  );
  await raw.start();
  const times = await all;
  const drainPerSecond = (sizes.drain - 1) / ((Math.max(...times) - Math.min(...times)) / 1000);
  return {
    system: 'raw graphile-worker',
    round,
    latencies,
    onlinePerSecond,
    onlineCpu,
    drainPerSecond,
  } satisfies Figures;
}

// --- Woopdi --------------------------------------------------------------------------------------

interface Woopdi {
  db: ScratchDatabase;
  port: number;
  base: string;
  api: ChildProcess;
  worker: ChildProcess | undefined;
  token: string;
  organizationId: string;
  /** Followed tasks whose stream was not exactly seq 1, 2, 3 closed with 1000. */
  bad: string[];
  /** Starts the worker process; `extra` adds to its environment (the local-queue drain). */
  startWorker(extra?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

async function woopdiSetup(): Promise<Woopdi> {
  const db = await scratchDatabase('woopdi', true);
  const port = await freePort();
  // BENCH_CLIENTS sockets of one user on loopback: not capped by WS_MAX_PER_USER / WS_MAX_PER_ADDRESS.
  const extra = {
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WS_MAX_PER_USER: '100000',
    WS_MAX_PER_ADDRESS: '1000000',
  };
  const env = { databaseUrl: db.url, port, extra };
  const api = await startApi(env);
  const base = `http://127.0.0.1:${port}`;
  const account = await seedAccount(base);
  const w: Woopdi = {
    db,
    port,
    base,
    api,
    worker: await startWorkerProcess(env),
    ...account,
    bad: [],
    async startWorker(more) {
      w.worker = await startWorkerProcess({ ...env, extra: { ...extra, ...more } });
    },
    async close() {
      await stopProcess(w.worker);
      await stopProcess(w.api);
      await db.drop();
    },
  };
  return w;
}

// POSTs on keep-alive connections through node:http: on this 2-core machine the load client's CPU is
// taken from the servers it measures, and fetch (undici) cost about twice as much per request.
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * 2 });

async function startTask(w: Woopdi): Promise<string> {
  const body = JSON.stringify({ kind: 'example_streaming', input: { steps: 1, intervalMs: 0 } });
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      `${w.base}/api/organizations/${w.organizationId}/tasks`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${w.token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  if (status < 200 || status >= 300) throw new Error(`tasks.start: ${status} ${text}`);
  return (JSON.parse(text) as { taskId: string }).taskId;
}

interface Followed {
  /** Resolves when the websocket is open (performance.now()). */
  opened: Promise<number>;
  /** Resolves at close: when the first and the last frame arrived. */
  done: Promise<{ first: number; last: number }>;
}

/** Follows a task on the plain websocket; a stream other than seq 1, 2, 3 closed with 1000 is recorded. */
function follow(w: Woopdi, taskId: string): Followed {
  const ws = new WebSocket(`ws://127.0.0.1:${w.port}/tasks/${taskId}/ws?token=${w.token}`, {
    perMessageDeflate: false,
  });
  const seqs: number[] = [];
  let first = Number.NaN;
  let last = Number.NaN;
  ws.on('message', (data) => {
    last = performance.now();
    if (seqs.length === 0) first = last;
    seqs.push((JSON.parse(String(data)) as { seq: number }).seq);
  });
  ws.on('error', () => undefined);
  const opened = new Promise<number>((resolve) => ws.once('open', () => resolve(performance.now())));
  const done = new Promise<{ first: number; last: number }>((resolve) =>
    ws.once('close', (code) => {
      if (code !== 1000 || seqs.join() !== '1,2,3') w.bad.push(`${taskId}: ${seqs.join() || '-'} (${code})`);
      resolve({ first, last });
    }),
  );
  return { opened, done };
}

async function woopdiRound(
  w: Woopdi,
  round: number,
  sizes = { latency: LATENCY, online: ONLINE, drain: DRAIN },
) {
  const latencies: number[] = [];
  const posts: number[] = [];
  const opens: number[] = [];
  for (let i = 0; i < sizes.latency; i++) {
    const t0 = performance.now();
    const taskId = await startTask(w);
    const t1 = performance.now();
    const followed = follow(w, taskId);
    const { first } = await followed.done;
    latencies.push(first - t0);
    posts.push(t1 - t0);
    opens.push((await followed.opened) - t1);
  }

  const roles = { api: w.api.pid!, worker: w.worker!.pid!, ...sharedRoles };
  const c0 = cpuSnapshot(roles);
  const o0 = performance.now();
  await clients(sizes.online, async () => void (await follow(w, await startTask(w)).done));
  const onlinePerSecond = sizes.online / ((performance.now() - o0) / 1000);
  const onlineCpu = perTask(cpuBetween(c0, cpuSnapshot(roles)), sizes.online);

  const drainPerSecond = await woopdiDrain(w, sizes.drain);
  // The same backlog again, drained by a worker with its local queue on; then the default again.
  const drainLocalQueuePerSecond = await woopdiDrain(w, sizes.drain, {
    WORKER_LOCAL_QUEUE: String(CONCURRENCY),
  });
  await stopProcess(w.worker);
  await w.startWorker();
  return {
    system: 'Woopdi',
    round,
    latencies,
    onlinePerSecond,
    onlineCpu,
    drainPerSecond,
    drainLocalQueuePerSecond,
    posts,
    opens,
  } satisfies Figures;
}

/** The backlog is queued while no worker runs, every task already followed; then one starts. */
async function woopdiDrain(w: Woopdi, n: number, workerEnv?: Record<string, string>) {
  await stopProcess(w.worker);
  const followed: Followed[] = [];
  await clients(n, async () => void followed.push(follow(w, await startTask(w))));
  await Promise.all(followed.map((f) => f.opened));
  await w.startWorker(workerEnv);
  const ends = await Promise.all(followed.map((f) => f.done));
  const seconds = (Math.max(...ends.map((e) => e.last)) - Math.min(...ends.map((e) => e.first))) / 1000;
  return (n - 1) / seconds;
}

// --- the run -------------------------------------------------------------------------------------

async function main() {
  const entry = woopdiEntry('api');
  const [pg] = await (async () => {
    const { default: postgres } = await import('postgres');
    const sql = postgres(process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', {
      max: 1,
      onnotice: () => {},
    });
    const rows = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    await sql.end();
    return rows.map((r) => r.v);
  })();
  console.log(
    `\nWoopdi task pipeline vs raw graphile-worker — node ${process.version}, ${cpus().length} cores, PostgreSQL ${pg}, Redis ${process.env.REDIS_URL || 'redis://127.0.0.1:6379'}`,
  );
  console.log(
    `Woopdi runtime: ${entry.compiled ? 'compiled (node packages/server/dist/main-*.js)' : 'TypeScript sources through tsx'}; worker concurrency ${CONCURRENCY} (both); ${CLIENTS} clients; ${ROUNDS} rounds after a warm-up\n`,
  );

  const raw = await rawSetup();
  const woopdi = await woopdiSetup();
  const figures: Figures[] = [];
  try {
    const warm = { latency: WARMUP, online: Math.min(ONLINE, 200), drain: Math.min(DRAIN, 100) };
    await rawRound(raw, 0, warm);
    await woopdiRound(woopdi, 0, warm);
    woopdi.bad.length = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? (['raw', 'woopdi'] as const) : (['woopdi', 'raw'] as const);
      for (const system of order) {
        const f: Figures = system === 'raw' ? await rawRound(raw, round) : await woopdiRound(woopdi, round);
        figures.push(f);
        console.log(
          `round ${round} ${f.system.padEnd(19)}: latency p50 ${ms(quantile(f.latencies, 0.5))}, p95 ${ms(quantile(f.latencies, 0.95))}; online ${f.onlinePerSecond.toFixed(0)} tasks/s; drain ${f.drainPerSecond.toFixed(0)} tasks/s${f.drainLocalQueuePerSecond ? ` (local queue: ${f.drainLocalQueuePerSecond.toFixed(0)})` : ''}`,
        );
      }
    }
  } finally {
    await woopdi.close().catch((err) => console.error('cleanup failed:', err));
    await raw.close().catch((err) => console.error('cleanup failed:', err));
  }

  const of = (system: Figures['system']) => figures.filter((f) => f.system === system);
  const summary = (list: Figures[]) => {
    const latencies = list.flatMap((f) => f.latencies);
    return {
      p50: quantile(latencies, 0.5),
      p95: quantile(latencies, 0.95),
      online: mean(list.map((f) => f.onlinePerSecond)),
      drain: mean(list.map((f) => f.drainPerSecond)),
      drainLocalQueue: mean(list.map((f) => f.drainLocalQueuePerSecond ?? 0)),
    };
  };
  const r = summary(of('raw graphile-worker'));
  const w = summary(of('Woopdi'));
  console.log(
    `\nAll rounds (latency percentiles over every task of every round; throughput: the mean of the rounds). Latency: ${LATENCY} tasks one at a time per round; online: ${ONLINE} tasks from ${CLIENTS} clients; drain: a backlog of ${DRAIN}.\n`,
  );
  table(
    ['measure', 'raw graphile-worker', 'Woopdi', 'Woopdi / raw', 'goal'],
    [
      [
        'start → first event at a subscriber, p50',
        ms(r.p50),
        ms(w.p50),
        `${(w.p50 / r.p50).toFixed(2)}×`,
        '≤ 2×',
      ],
      [
        'start → first event at a subscriber, p95',
        ms(r.p95),
        ms(w.p95),
        `${(w.p95 / r.p95).toFixed(2)}×`,
        '≤ 2×',
      ],
      [
        'online throughput (tasks/s)',
        r.online.toFixed(0),
        w.online.toFixed(0),
        `${(w.online / r.online).toFixed(2)}×`,
        '≥ 2.4×',
      ],
      [
        'drain throughput (tasks/s)',
        r.drain.toFixed(0),
        w.drain.toFixed(0),
        `${(w.drain / r.drain).toFixed(2)}×`,
        '≥ 0.8×',
      ],
      [
        `drain, Woopdi WORKER_LOCAL_QUEUE=${CONCURRENCY} (tasks/s)`,
        r.drain.toFixed(0),
        w.drainLocalQueue.toFixed(0),
        `${(w.drainLocalQueue / r.drain).toFixed(2)}×`,
        '',
      ],
    ],
  );
  const posts = of('Woopdi').flatMap((f) => f.posts ?? []);
  const opens = of('Woopdi').flatMap((f) => f.opens ?? []);
  console.log(
    `\nraw: addJob called → message at a Redis subscriber. Woopdi: POST /api/organizations/{id}/tasks sent → task_start on /tasks/{id}/ws (opened when the POST answered); of which the POST took p50 ${ms(quantile(posts, 0.5))} (p95 ${ms(quantile(posts, 0.95))}) and the websocket open p50 ${ms(quantile(opens, 0.5))} (p95 ${ms(quantile(opens, 0.95))}).`,
  );
  // CPU per online task, the mean of the rounds: what each system costs the machine per task.
  const cpuOf = (list: Figures[], role: string) => mean(list.map((f) => f.onlineCpu[role] ?? 0));
  const roleNames = ['api', 'worker', 'postgres', 'redis', 'client'];
  const label: Record<string, string> = {
    api: 'Woopdi api (POST, websocket)',
    worker: 'worker process',
    postgres: 'PostgreSQL (all backends)',
    redis: 'Redis',
    client: 'load client (this process)',
  };
  const cpuRow = (role: string) => {
    const rawMs = role === 'api' ? 0 : cpuOf(of('raw graphile-worker'), role);
    const woopdiMs = cpuOf(of('Woopdi'), role);
    return [
      label[role]!,
      role === 'api' ? '–' : rawMs.toFixed(2),
      woopdiMs.toFixed(2),
      rawMs ? `${(woopdiMs / rawMs).toFixed(2)}×` : '',
    ];
  };
  const total = (system: Figures['system']) =>
    roleNames.reduce((sum, role) => sum + cpuOf(of(system), role), 0);
  console.log(
    '\nCPU per task in the online phase (ms, user + system from /proc; 2 cores = 2,000 ms per second):\n',
  );
  table(
    ['process', 'raw graphile-worker', 'Woopdi', 'Woopdi / raw'],
    [
      ...roleNames.map(cpuRow),
      [
        'all',
        total('raw graphile-worker').toFixed(2),
        total('Woopdi').toFixed(2),
        `${(total('Woopdi') / total('raw graphile-worker')).toFixed(2)}×`,
      ],
    ],
  );
  if (woopdi.bad.length > 0) {
    console.error(`\n${woopdi.bad.length} followed tasks did not deliver seq 1, 2, 3 exactly once in order:`);
    for (const b of woopdi.bad.slice(0, 10)) console.error(`  ${b}`);
    process.exitCode = 1;
  } else {
    const followed = ROUNDS * (LATENCY + ONLINE + 2 * DRAIN);
    console.log(
      `Every one of the ${followed} measured Woopdi tasks delivered seq 1, 2, 3 exactly once, in order.`,
    );
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
