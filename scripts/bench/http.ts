// `pnpm bench`: the hot path against the machine's own baseline, in one run.
//   (a) a bare node:http JSON handler            — the baseline
//   (b) GET /api/organizations/{id} with a bearer — the REST bridge
//   (c) organizations.get over tRPC HTTP
//   (d) the same, 10 calls in one tRPC batch     — per-call throughput
// Each server runs in its own process; autocannon drives it from this one. Reported as ratios to
// (a), never as bare numbers alone.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const here = fileURLToPath(new URL('.', import.meta.url));

async function startServer(file: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', `${here}servers/${file}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, info: JSON.parse(line) as { port: number; token?: string; organizationId?: string } };
}

async function stop(child: ChildProcess) {
  child.kill('SIGTERM');
  await once(child, 'exit');
}

interface Row {
  name: string;
  reqPerSec: number;
  callsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
}

async function run(name: string, opts: autocannon.Options, callsPerRequest = 1): Promise<Row> {
  // A short warm-up lets the JIT and connection pools settle before measuring.
  await autocannon({ ...opts, duration: 2, connections });
  const r = await autocannon({ ...opts, duration: seconds, connections });
  return {
    name,
    reqPerSec: r.requests.average,
    callsPerSec: r.requests.average * callsPerRequest,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

const bare = await startServer('bare.ts');
const rows: Row[] = [];
rows.push(await run('(a) bare node:http', { url: `http://127.0.0.1:${bare.info.port}/` }));
await stop(bare.child);

const woopdi = await startServer('woopdi.ts');
const { port, token, organizationId } = woopdi.info;
const headers = { authorization: `Bearer ${token}` };
const input = encodeURIComponent(JSON.stringify({ organizationId }));
rows.push(
  await run('(b) REST GET /api/organizations/{id}', {
    url: `http://127.0.0.1:${port}/api/organizations/${organizationId}`,
    headers,
  }),
);
rows.push(
  await run('(c) tRPC organizations.get', {
    url: `http://127.0.0.1:${port}/trpc/organizations.get?input=${input}`,
    headers,
  }),
);
const paths = Array(10).fill('organizations.get').join(',');
const batchInput = encodeURIComponent(
  JSON.stringify(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i, { organizationId }]))),
);
rows.push(
  await run(
    '(d) tRPC batch of 10',
    { url: `http://127.0.0.1:${port}/trpc/${paths}?batch=1&input=${batchInput}`, headers },
    10,
  ),
);
await stop(woopdi.child);

const base = rows[0]!;
console.log(`\n${seconds}s per scenario, ${connections} connections, ${new Date().toISOString()}`);
console.log('| scenario | req/s | calls/s | ratio to (a) | p50 ms | p99 ms | errors |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.reqPerSec.toFixed(0)} | ${r.callsPerSec.toFixed(0)} | ${(r.callsPerSec / base.callsPerSec).toFixed(3)} | ${r.p50} | ${r.p99} | ${r.errors} |`,
  );
}
if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
