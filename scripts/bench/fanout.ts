// `pnpm bench:fanout`: one task's live events fanned out to N websocket subscribers of
// `/tasks/{taskId}/ws` on one Woopdi api process, beside a raw `ws` broadcast server sending the
// same payload to the same N, in one run (DESIGN §10, issue #12).
//
// Woopdi: the api and the worker in service mode as separate processes (the compiled runtime when it
// is built, see pipeline/processes.ts), real PostgreSQL and Redis. The task (example_streaming,
// BENCH_STEPS steps, one every BENCH_INTERVAL_MS: task_start, the steps, task_end) waits in the queue
// behind a warm-up task (the worker runs one job at a time) while the N sockets connect; then the
// warm-up task is cancelled and the warm worker runs it: every event is measured from its `at`
// (written by the worker) to its arrival at a subscriber. Baseline
// (pipeline/raw-ws-server.ts): the same number of messages, shaped like task events, each
// serialised once and written to every socket, measured from `at`: the time the message was due on its
// schedule (so a broadcaster that falls behind shows its backlog, as Woopdi does).
// Subscribers run in separate client processes (pipeline/ws-followers.ts, at most
// BENCH_SOCKETS_PER_CLIENT each) and check that every socket receives seq 1..N exactly once, in
// order. Server peak RSS is the process's VmHWM from /proc. Every server process is fresh, warmed
// up with a short broadcast to a few subscribers first; ROUNDS rounds alternate which system goes first.
//
// Sizes: BENCH_FANOUT=1000,10000 BENCH_STEPS=100 BENCH_INTERVAL_MS=100 BENCH_ROUNDS=2
//   BENCH_SOCKETS_PER_CLIENT=5000 BENCH_WARMUP_SOCKETS=50
// Open files: each process raises its limit to the hard limit (`ulimit -Hn`); 10,000 subscribers
// need a hard limit above ~10,100 for the server and ~5,100 per client process (loopback only).
// Environment as for bench:tasks (BENCH_ADMIN_URL, REDIS_URL, BENCH_SOURCE=1).
import type { ChildProcess } from 'node:child_process';
import { execSync } from 'node:child_process';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import {
  freePort,
  here,
  intEnv,
  mb,
  mean,
  memoryOf,
  profileArgs,
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

const SIZES = (process.env.BENCH_FANOUT ?? '1000,10000').split(',').map(Number);
const STEPS = intEnv('BENCH_STEPS', 100);
const INTERVAL_MS = intEnv('BENCH_INTERVAL_MS', 100);
const ROUNDS = Math.max(1, intEnv('BENCH_ROUNDS', 2));
const PER_CLIENT = Math.max(1, intEnv('BENCH_SOCKETS_PER_CLIENT', 5_000));
const WARMUP_SOCKETS = intEnv('BENCH_WARMUP_SOCKETS', 50);
/** Events per task: task_start, one per step, task_end. */
const EVENTS = STEPS + 2;

interface ClientResult {
  sockets: number;
  frames: number;
  complete: number;
  incomplete: number;
  neverReceived: number;
  closeCodes: Record<string, number>;
  histogram: Array<[number, number]>;
}

interface Run {
  system: 'raw ws' | 'Woopdi';
  n: number;
  round: number;
  result: ClientResult;
  peakRss: number;
}

/**
 * N subscribers of `url` over as many client processes as needed; resolves once every one is
 * connected, with the promise of the merged result (when every socket has closed).
 */
async function subscribers(url: string, n: number, expect: number) {
  const processes = Math.ceil(n / PER_CLIENT);
  const children: ChildProcess[] = [];
  const results: Array<Promise<ClientResult>> = [];
  const connected: Array<Promise<unknown>> = [];
  for (let p = 0; p < processes; p++) {
    const share = Math.floor(n / processes) + (p < n % processes ? 1 : 0);
    const child = spawnNode(['--import', 'tsx', `${here}ws-followers.ts`], {
      BENCH_URL: url,
      BENCH_SOCKETS: String(share),
      BENCH_EXPECT: String(expect),
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    connected.push(
      new Promise((resolve) => lines.on('line', (l) => l.startsWith('connected ') && resolve(l))),
    );
    results.push(
      new Promise((resolve, reject) => {
        lines.on('line', (l) => l.startsWith('result ') && resolve(JSON.parse(l.slice(7)) as ClientResult));
        child.once('exit', (code) => code !== 0 && reject(new Error(`a client process exited with ${code}`)));
      }),
    );
  }
  await Promise.all(connected);
  return {
    done: Promise.all(results).then(merge),
    stop: () => Promise.all(children.map((c) => stopProcess(c))),
  };
}

function merge(parts: ClientResult[]): ClientResult {
  const histogram = new Map<number, number>();
  for (const p of parts)
    for (const [ms, count] of p.histogram) histogram.set(ms, (histogram.get(ms) ?? 0) + count);
  const closeCodes: Record<string, number> = {};
  for (const p of parts)
    for (const [code, count] of Object.entries(p.closeCodes))
      closeCodes[code] = (closeCodes[code] ?? 0) + count;
  const sum = (k: 'sockets' | 'frames' | 'complete' | 'incomplete' | 'neverReceived') =>
    parts.reduce((a, p) => a + p[k], 0);
  return {
    sockets: sum('sockets'),
    frames: sum('frames'),
    complete: sum('complete'),
    incomplete: sum('incomplete'),
    neverReceived: sum('neverReceived'),
    closeCodes,
    histogram: [...histogram.entries()],
  };
}

/** The q-quantile of a merged millisecond histogram. */
function percentile(histograms: Array<Array<[number, number]>>, q: number): number {
  const all = new Map<number, number>();
  for (const h of histograms) for (const [ms, c] of h) all.set(ms, (all.get(ms) ?? 0) + c);
  const sorted = [...all.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((a, [, c]) => a + c, 0);
  let seen = 0;
  for (const [ms, c] of sorted) {
    seen += c;
    if (seen >= q * total) return ms;
  }
  return Number.NaN;
}

async function rawRun(n: number, round: number): Promise<Run> {
  const port = await freePort();
  const server = spawnNode([...profileArgs(), `${here}raw-ws-server.mjs`], { PORT: String(port) });
  try {
    await waitForLine(server, /^ready$/);
    const lines = createInterface({ input: server.stdout! });
    const broadcastDone = () => new Promise((resolve) => lines.on('line', (l) => l === 'done' && resolve(l)));
    const url = `ws://127.0.0.1:${port}/`;
    // Warm-up.
    const warm = await subscribers(url, WARMUP_SOCKETS, 20);
    let done = broadcastDone();
    server.stdin!.write('broadcast 20 10\n');
    await Promise.all([done, warm.done]);
    // Measured.
    const subs = await subscribers(url, n, EVENTS);
    done = broadcastDone();
    server.stdin!.write(`broadcast ${EVENTS} ${INTERVAL_MS}\n`);
    const [, result] = await Promise.all([done, subs.done]);
    return { system: 'raw ws', n, round, result, peakRss: memoryOf(server.pid!).peak };
  } finally {
    await stopProcess(server);
  }
}

interface WoopdiContext {
  databaseUrl: string;
}

async function woopdiRun(ctx: WoopdiContext, n: number, round: number): Promise<Run> {
  const port = await freePort();
  // One job at a time: the warm-up task holds the worker until every subscriber of the measured task
  // is connected, so the measured task runs on a warm worker and every subscriber sees its first event.
  // Every subscriber is one user on loopback: far above the default per-user and per-address caps.
  const extra = { WORKER_CONCURRENCY: '1', WS_MAX_PER_USER: '100000', WS_MAX_PER_ADDRESS: '1000000' };
  const env = { databaseUrl: ctx.databaseUrl, port, extra };
  const api = await startApi(env);
  let worker: ChildProcess | undefined;
  try {
    const base = `http://127.0.0.1:${port}`;
    const { token, organizationId } = await seedAccount(base);
    const call = (path: string, body?: unknown) =>
      fetch(`${base}/api${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
    const start = async (steps: number, intervalMs: number) => {
      const res = await call(`/organizations/${organizationId}/tasks`, {
        kind: 'example_streaming',
        input: { steps, intervalMs },
      });
      if (!res.ok) throw new Error(`tasks.start: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { taskId: string }).taskId;
    };
    const wsUrl = (taskId: string) => `ws://127.0.0.1:${port}/tasks/${taskId}/ws?token=${token}`;
    worker = await startWorkerProcess(env);
    // Warm-up: a long task (one event every 100 ms, 60 s at most) to a few subscribers, running while
    // the measured task waits in the queue and its subscribers connect; then cancelled.
    const warmTask = await start(600, 100);
    const warm = await subscribers(wsUrl(warmTask), WARMUP_SOCKETS, 602);
    const taskId = await start(STEPS, INTERVAL_MS);
    const subs = await subscribers(wsUrl(taskId), n, EVENTS);
    const cancelled = await call(`/tasks/${warmTask}/cancel`);
    if (!cancelled.ok)
      console.warn(
        `  warning: the warm-up task ended before ${n} subscribers were connected (${cancelled.status}); the first events were backfilled`,
      );
    await warm.done;
    const result = await subs.done;
    return { system: 'Woopdi', n, round, result, peakRss: memoryOf(api.pid!).peak };
  } finally {
    await stopProcess(worker);
    await stopProcess(api);
  }
}

async function main() {
  const entry = woopdiEntry('api');
  let hardLimit = 'unknown';
  try {
    hardLimit = execSync('ulimit -Hn', { shell: '/bin/sh' }).toString().trim();
  } catch {}
  console.log(
    `\nWoopdi task-event fan-out vs a raw ws broadcast — node ${process.version}, ${cpus().length} cores, Redis ${process.env.REDIS_URL || 'redis://127.0.0.1:6379'}, open-files hard limit ${hardLimit}`,
  );
  console.log(
    `Woopdi runtime: ${entry.compiled ? 'compiled (node packages/server/dist/main-*.js)' : 'TypeScript sources through tsx'}; ${EVENTS} events, one every ${INTERVAL_MS} ms; ${ROUNDS} rounds; subscribers in client processes of at most ${PER_CLIENT}\n`,
  );
  const db = await scratchDatabase('fanout', true);
  const runs: Run[] = [];
  try {
    for (const n of SIZES) {
      for (let round = 1; round <= ROUNDS; round++) {
        const order = round % 2 === 1 ? (['raw', 'woopdi'] as const) : (['woopdi', 'raw'] as const);
        for (const system of order) {
          const run =
            system === 'raw' ? await rawRun(n, round) : await woopdiRun({ databaseUrl: db.url }, n, round);
          runs.push(run);
          const r = run.result;
          console.log(
            `N ${n} round ${round} ${run.system.padEnd(6)}: p50 ${percentile([r.histogram], 0.5)} ms, p99 ${percentile([r.histogram], 0.99)} ms, peak RSS ${mb(run.peakRss)}; ${r.complete}/${n} sockets got all ${EVENTS} events in order (${r.frames} frames; close codes ${JSON.stringify(r.closeCodes)})`,
          );
        }
      }
    }
  } finally {
    await db.drop();
  }

  console.log(
    '\nAll rounds (latency percentiles over every frame of every round; RSS: the mean of the rounds):\n',
  );
  const rows: string[][] = [];
  let incomplete = 0;
  for (const n of SIZES) {
    const of = (system: Run['system']) => runs.filter((r) => r.n === n && r.system === system);
    const figures = (list: Run[]) => ({
      p50: percentile(
        list.map((r) => r.result.histogram),
        0.5,
      ),
      p99: percentile(
        list.map((r) => r.result.histogram),
        0.99,
      ),
      rss: mean(list.map((r) => r.peakRss)),
    });
    const raw = figures(of('raw ws'));
    const w = figures(of('Woopdi'));
    incomplete += runs.filter((r) => r.n === n).reduce((a, r) => a + (r.n - r.result.complete), 0);
    rows.push([
      String(n),
      `${raw.p50} / ${raw.p99} ms`,
      mb(raw.rss),
      `${w.p50} / ${w.p99} ms`,
      mb(w.rss),
      `${(w.p50 / raw.p50).toFixed(2)}× / ${(w.p99 / raw.p99).toFixed(2)}×`,
      `${(w.rss / raw.rss).toFixed(2)}×`,
    ]);
  }
  table(
    ['N', 'raw ws p50 / p99', 'raw RSS', 'Woopdi p50 / p99', 'Woopdi RSS', 'ratio p50 / p99', 'ratio RSS'],
    rows,
  );
  console.log('\nGoal: p99 ≤ 1.3× and RSS ≤ 2× the raw ws broadcast at the same N.');
  if (incomplete > 0) {
    console.error(`\n${incomplete} sockets did not receive every event exactly once, in order.`);
    process.exitCode = 1;
  } else {
    console.log('Every socket of every run received every event exactly once, in order.');
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
