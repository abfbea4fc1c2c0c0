// Shared by the benchmarks: how to start a Woopdi process, and what a process tree costs (/proc).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * `node packages/server/dist/<entry>.js` when the compiled runtime is built (`pnpm build`), else the
 * sources through tsx, so a benchmark runs what production runs whenever it can.
 */
export function woopdiCommand(entry: 'main-api' | 'main-worker' | 'main'): {
  args: string[];
  compiled: boolean;
} {
  const compiled = `${repo}packages/server/dist/${entry}.js`;
  if (process.env.BENCH_SOURCE !== '1' && existsSync(compiled)) return { args: [compiled], compiled: true };
  return {
    args: ['--import', 'tsx', '--conditions=@woopdi/source', `${repo}packages/server/src/${entry}.ts`],
    compiled: false,
  };
}

export function spawnNode(
  args: string[],
  env: Record<string, string>,
  stdout: 'pipe' | 'ignore' | number = 'pipe',
): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Polls until `url` answers 200; fails at once if `child` exits first. */
export async function waitForHttp(url: string, child?: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(
        `the process for ${url} exited (${child.exitCode ?? child.signalCode}) before it was ready`,
      );
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** The pid and all its descendants (node:cluster workers are children of the primary). */
export function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(name), Number(fields[1]));
    } catch {}
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++)
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** CPU seconds (user + system) used so far by these processes. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / ticksPerSecond;
}

/** Resident memory of these processes in bytes. */
export function rssBytes(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {}
  }
  return kb * 1024;
}

/** Samples the tree's RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(root: number, everyMs = 200) {
  let peak = 0;
  const pids = processTree(root);
  const tick = () => {
    peak = Math.max(peak, rssBytes(pids));
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return peak;
    },
  };
}
