// Start-up time of a Woopdi process: milliseconds from spawn to the first 200 of /readyz, over a few
// runs (median reported). The command gets PORT (a free port) and the caller's environment, runs in
// its own process group, and is stopped with SIGTERM to the whole group (as Ctrl-C would), so
// wrappers such as `pnpm start` leave nothing behind.
//   pnpm exec tsx scripts/measure-startup.ts [--runs 3] -- node packages/server/dist/main-api.js
//   DATABASE_URL=… pnpm exec tsx scripts/measure-startup.ts -- node --conditions=@woopdi/source --import tsx packages/server/src/main-api.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const options = dash === -1 ? [] : args.slice(0, dash);
const command = dash === -1 ? args : args.slice(dash + 1);
const runsAt = options.indexOf('--runs');
const runs = runsAt === -1 ? 3 : Number(options[runsAt + 1]);
if (command.length === 0 || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: measure-startup.ts [--runs N] -- <command> [args…]');
  process.exit(64);
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function once200(url: string, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (exited()) throw new Error('the process exited before /readyz answered 200');
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`/readyz did not answer 200 within ${timeoutMs} ms`);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const timings: number[] = [];
for (let run = 1; run <= runs; run++) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {} // already gone
  };
  let gone = false;
  const exit = once(child, 'exit').then(() => {
    gone = true;
  });
  try {
    await once200(`http://127.0.0.1:${port}/readyz`, () => gone, 60_000);
    const ms = Math.round(performance.now() - started);
    timings.push(ms);
    console.log(`run ${run}: ${ms} ms`);
  } finally {
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 20_000);
    await exit;
    // The group's other members (a wrapper's children) may still be stopping: wait for them too.
    while (groupAlive(child.pid!)) await new Promise((r) => setTimeout(r, 50));
    clearTimeout(timer);
  }
}
const sorted = [...timings].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
console.log(`median spawn → /readyz 200: ${median} ms (${timings.join(', ')}) — ${command.join(' ')}`);
