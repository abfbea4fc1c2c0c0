// `pnpm bench`: Woopdi's hot path (an authenticated, organization-scoped read) against baselines
// measured in the same run (DESIGN §10, issue #11):
//   (a) bare node:http answering constant JSON           — the machine's limit
//   (b) hand-written node:http + jose + postgres         — THE baseline every ratio is against
//   (c) Woopdi REST GET /api/organizations/{id}
//   (d) Woopdi tRPC organizations.get
//   (e) Woopdi REST with WEB_CONCURRENCY=2 (node:cluster, one port)
// Woopdi runs as in production: the compiled api entry when built, NODE_ENV=production,
// IS_PROD=true, default LOG_LEVEL with the request log on (written to a file), real Redis.
// Load comes from wrk (Debian's package) in its own process — or autocannon in a child process
// where wrk is missing — cycling 1,000 (token, organization) pairs of real members; each server
// gets a warm-up, and every scenario runs BENCH_ROUNDS times in alternating order. CPU per request
// is the server process tree's user+system time (from /proc) over the measured window.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BENCH_JWT_SECRET, createDataset } from './lib/dataset.js';
import {
  cpuSeconds,
  processTree,
  sampleRss,
  spawnNode,
  stopProcess,
  waitForHttp,
  woopdiCommand,
} from './lib/processes.js';

// Four short rounds rather than two long ones: this host's noise comes in stretches of tens of
// seconds, and more alternations spread it over every scenario instead of landing on one.
const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const adminUrl = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const only = process.env.BENCH_ONLY?.split(',');
const here = fileURLToPath(new URL('.', import.meta.url));
const work = join(tmpdir(), `woopdi-bench-${process.pid}`);
execFileSync('mkdir', ['-p', work]);

const hasWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 1; // wrk --version exits 1 after printing
  }
})();

// Bench what production runs: the compiled runtime, rebuilt first if the sources are newer.
if (process.env.BENCH_SOURCE !== '1')
  execFileSync(process.execPath, [`${here}../../packages/server/scripts/build-if-stale.mjs`], {
    stdio: 'inherit',
  });
console.error('bench: building the data set (10,000 users, 2,000 organizations, 50,000 memberships)…');
const data = await createDataset(adminUrl);
const woopdi = woopdiCommand('main-api');
console.error(
  `bench: Woopdi runs ${woopdi.compiled ? 'the compiled runtime (dist)' : 'from source through tsx (run `pnpm build` for the compiled runtime)'}; load from ${hasWrk ? 'wrk' : 'autocannon (child process)'}`,
);

/** One line per request to cycle through: path, tab, token. */
function requestsFile(name: string, pathOf: (organizationId: string) => string, withToken = true) {
  const file = join(work, `${name}.txt`);
  writeFileSync(
    file,
    data.pairs.map((p) => `${pathOf(p.organizationId)}\t${withToken ? p.token : ''}`).join('\n'),
  );
  return file;
}
const restFile = requestsFile('rest', (id) => `/api/organizations/${id}`);
const trpcFile = requestsFile(
  'trpc',
  (id) => `/trpc/organizations.get?input=${encodeURIComponent(JSON.stringify({ organizationId: id }))}`,
);
const bareFile = requestsFile('bare', () => '/', false);

interface Started {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startPrinted(file: string, env: Record<string, string>): Promise<Started> {
  const child = spawnNode(['--import', 'tsx', '--conditions=@woopdi/source', `${here}servers/${file}`], env);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return {
    pid: child.pid!,
    port: (JSON.parse(line) as { port: number }).port,
    stop: () => stopProcess(child),
  };
}

let nextPort = 18_000 + (process.pid % 1000) * 10;
async function startWoopdi(
  webConcurrency: number,
  nodeArgs: string[] = [],
  env: Record<string, string> = {},
  logPath?: string,
): Promise<Started> {
  const port = nextPort++;
  const log = openSync(logPath ?? join(work, `api-${port}.log`), 'w');
  // BENCH_PROFILE=DIR: each api process writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  // BENCH_API_NODE_ARGS: extra node flags for every Woopdi api process (e.g. `--trace-gc`).
  const extra = process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawnNode(
    [...profile, ...extra, ...nodeArgs, ...woopdi.args],
    {
      NODE_ENV: 'production',
      IS_PROD: 'true',
      DATABASE_URL: data.databaseUrl,
      REDIS_URL: redisUrl,
      JWT_SECRET: BENCH_JWT_SECRET,
      ENCRYPTION_KEY: 'k8Qz3vX1mN7pR2tY5wB9cF4hJ6sL0aD8gE3uI1oP2qU=',
      PORT: String(port),
      HOST: '127.0.0.1',
      WEB_CONCURRENCY: String(webConcurrency),
      API_HOST: `http://127.0.0.1:${port}`,
      WEB_CLIENT_URL: 'http://127.0.0.1:5173',
      ...env,
    },
    log,
  );
  closeSync(log);
  await waitForHttp(`http://127.0.0.1:${port}/readyz`, child);
  return { pid: child.pid!, port, stop: () => stopProcess(child) };
}

interface Load {
  requests: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function load(port: number, file: string, duration: number): Promise<Load> {
  const child = hasWrk
    ? spawn(
        'wrk',
        [
          '-t2',
          `-c${connections}`,
          `-d${duration}s`,
          '--latency',
          '-s',
          `${here}lib/wrk-pairs.lua`,
          `http://127.0.0.1:${port}`,
          '--',
          file,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
    : spawnNode(
        [
          '--import',
          'tsx',
          `${here}lib/autocannon-pairs.ts`,
          String(port),
          file,
          String(duration),
          String(connections),
        ],
        {},
      );
  let out = '';
  child.stdout!.on('data', (chunk) => {
    out += chunk;
  });
  await once(child, 'exit');
  const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
  if (!line) throw new Error(`load generator printed no summary:\n${out}`);
  const r = JSON.parse(line) as {
    requests: number;
    durationUs: number;
    p50Us: number;
    p99Us: number;
    errors: number;
    non2xx: number;
  };
  return {
    requests: r.requests,
    reqPerSec: r.requests / (r.durationUs / 1e6),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    errors: r.errors + r.non2xx,
  };
}

interface Scenario {
  key: string;
  name: string;
  start(): Promise<Started>;
  file: string;
}

const scenarios: Scenario[] = [
  {
    key: 'a',
    name: '(a) bare node:http, constant JSON',
    start: () => startPrinted('bare.ts', {}),
    file: bareFile,
  },
  {
    key: 'b',
    name: '(b) hand-written node:http + jose + postgres',
    start: () =>
      startPrinted('handwritten.ts', {
        DATABASE_URL: data.databaseUrl,
        JWT_SECRET: data.jwt.secret,
        JWT_ISSUER: data.jwt.issuer,
        JWT_AUDIENCE: data.jwt.audience,
      }),
    file: restFile,
  },
  {
    key: 'c',
    name: '(c) Woopdi REST GET /api/organizations/{id}',
    start: () => startWoopdi(1),
    file: restFile,
  },
  { key: 'd', name: '(d) Woopdi tRPC organizations.get', start: () => startWoopdi(1), file: trpcFile },
  { key: 'e', name: '(e) Woopdi REST, WEB_CONCURRENCY=2', start: () => startWoopdi(2), file: restFile },
  // Only with BENCH_ONLY=…,f: (c) with V8's own heap growing instead of heap-tuning.ts's 1.2 factor.
  {
    key: 'f',
    name: "(f) Woopdi REST, V8's default heap growing",
    start: () => startWoopdi(1, ['--heap-growing-percent=0']),
    file: restFile,
  },
  // Only with BENCH_ONLY=…,g: (c) without the request log (what the log costs).
  {
    key: 'g',
    name: '(g) Woopdi REST, request log off',
    start: () => startWoopdi(1, [], { LOG_LEVEL: 'warn' }),
    file: restFile,
  },
  // Only with BENCH_ONLY=…,x: (c) with the node flags in BENCH_X_NODE_ARGS (experiments).
  {
    key: 'x',
    name: `(x) Woopdi REST, node ${process.env.BENCH_X_NODE_ARGS ?? ''}, log to ${process.env.BENCH_X_LOG ?? 'a file'}`,
    start: () =>
      startWoopdi(
        1,
        process.env.BENCH_X_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
        {},
        process.env.BENCH_X_LOG,
      ),
    file: restFile,
  },
].filter((s) => (only ? only.includes(s.key) : !['f', 'g', 'x'].includes(s.key)));

interface Measured extends Load {
  cpuUsPerRequest: number;
  rssBytes: number;
}
const results = new Map<string, Measured[]>();

try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
    for (const s of order) {
      const server = await s.start();
      try {
        await load(server.port, s.file, warmupSeconds);
        const tree = processTree(server.pid);
        const cpuBefore = cpuSeconds(tree);
        const rss = sampleRss(server.pid);
        const r = await load(server.port, s.file, seconds);
        const cpu = cpuSeconds(tree) - cpuBefore;
        const measured = {
          ...r,
          cpuUsPerRequest: (cpu * 1e6) / Math.max(1, r.requests),
          rssBytes: rss.stop(),
        };
        results.set(s.key, [...(results.get(s.key) ?? []), measured]);
        console.error(
          `bench: round ${round + 1} ${s.name}: ${measured.reqPerSec.toFixed(0)} req/s, p50 ${measured.p50Ms.toFixed(1)} / p99 ${measured.p99Ms.toFixed(1)} ms, ${measured.cpuUsPerRequest.toFixed(0)} µs CPU/req, RSS ${(measured.rssBytes / 2 ** 20).toFixed(0)} MB, errors ${measured.errors}`,
        );
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  await data.drop();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const summary = new Map(
  [...results].map(([key, rs]) => [
    key,
    {
      reqPerSec: median(rs.map((r) => r.reqPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
      rssMb: median(rs.map((r) => r.rssBytes)) / 2 ** 20,
      errors: rs.reduce((n, r) => n + r.errors, 0),
    },
  ]),
);
const base = summary.get('b');
const ratio = (x: number, y: number | undefined) => (y ? (x / y).toFixed(2) : '–');
console.log(
  `\npnpm bench — ${new Date().toISOString()}, ${availableParallelism()} cores, ${rounds} rounds × ${seconds} s (after ${warmupSeconds} s warm-up), ${connections} connections, load: ${hasWrk ? 'wrk' : 'autocannon'}, Woopdi: ${woopdi.compiled ? 'compiled' : 'tsx'}; medians; ratios to (b)`,
);
console.log('| server | req/s | × (b) | p50 / p99 ms | p99 × (b) | CPU µs/req | × (b) | RSS MB | errors |');
console.log('|---|---:|---:|---|---:|---:|---:|---:|---:|');
for (const s of scenarios) {
  const r = summary.get(s.key)!;
  console.log(
    `| ${s.name} | ${r.reqPerSec.toFixed(0)} | ${ratio(r.reqPerSec, base?.reqPerSec)} | ${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)} | ${ratio(r.p99Ms, base?.p99Ms)} | ${r.cpuUsPerRequest.toFixed(0)} | ${ratio(r.cpuUsPerRequest, base?.cpuUsPerRequest)} | ${r.rssMb.toFixed(0)} | ${r.errors} |`,
  );
}
if ([...summary.values()].some((r) => r.errors > 0)) process.exitCode = 1;
