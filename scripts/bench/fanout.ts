// `pnpm bench:fanout`: N websocket subscribers (1,000 and 10,000 by default) follow one task's
// events through the plain /tasks/{taskId}/ws route of one api process. Reports delivery latency
// (event written → frame received, p50/p99) and the server's RSS, beside the same process's RSS
// with no subscriber (the baseline).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const sizes = (process.env.BENCH_FANOUT ?? '1000,10000').split(',').map(Number);
const here = fileURLToPath(new URL('.', import.meta.url));

const rssOf = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/\d+/)?.[0] ?? 0) * 1024;
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

const child = spawn(process.execPath, ['--import', 'tsx', `${here}servers/woopdi.ts`], {
  env: { ...process.env, BENCH_WORKER: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
const { port, token, organizationId } = JSON.parse(line) as {
  port: number;
  token: string;
  organizationId: string;
};
const base = `http://127.0.0.1:${port}`;
const idleRss = rssOf(child.pid!);

async function startTask(steps: number, intervalMs: number): Promise<string> {
  const res = await fetch(`${base}/api/organizations/${organizationId}/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'example_streaming', input: { steps, intervalMs } }),
  });
  if (!res.ok) throw new Error(`tasks.start: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { taskId: string }).taskId;
}

const rows: string[] = [];
for (const n of sizes) {
  // Long enough for every socket to connect before the measured events.
  const steps = 20;
  const taskId = await startTask(steps, Math.max(200, n / 10));
  const latencies: number[] = [];
  let measuredFrom = Number.POSITIVE_INFINITY;
  let finished = 0;
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/tasks/${taskId}/ws?token=${token}`);
      ws.on('message', (data) => {
        const event = JSON.parse(String(data)) as { at: string; type: string };
        const at = Date.parse(event.at);
        if (at >= measuredFrom) latencies.push(Date.now() - at);
      });
      ws.on('close', () => {
        if (++finished === n) resolve();
      });
      ws.on('error', () => undefined);
    }
  });
  // Connected when the server reports it; only events written after that are measured.
  const started = Date.now();
  while (Date.now() - started < 120_000) {
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const open = Number(metrics.match(/^woopdi_websocket_connections (\d+)/m)?.[1] ?? 0);
    if (open >= n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  measuredFrom = Date.now();
  const peakRss = rssOf(child.pid!);
  await done;
  latencies.sort((a, b) => a - b);
  rows.push(
    `| ${n} | ${latencies.length} | ${pct(latencies, 0.5)} | ${pct(latencies, 0.99)} | ${mb(peakRss)} | ${mb(peakRss - idleRss)} |`,
  );
}
child.kill('SIGTERM');
await once(child, 'exit');

console.log(`\nserver RSS with no subscriber (baseline): ${mb(idleRss)}`);
console.log('| subscribers | frames measured | p50 ms | p99 ms | server RSS | over baseline |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
