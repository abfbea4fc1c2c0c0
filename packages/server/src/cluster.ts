// WEB_CONCURRENCY > 1: the api process becomes a node:cluster primary that forks that many api
// processes sharing one port. Each is a full, stateless api instance (its own pool, bus connection
// and caches, kept coherent through the bus like separate hosts); the primary serves nothing itself.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@woopdi/core';
import { onShutdownSignal } from './shutdown.js';

export interface ClusterOptions {
  /** api processes to keep running. */
  processes: number;
  logger: Logger;
  /** How long each process may take to stop; the primary waits a little longer, then kills. */
  shutdownTimeoutMs: number;
}

/**
 * Forks the api processes and keeps their number: one that dies unexpectedly after it was serving is
 * logged and replaced. One that dies before it ever listened (a port in use, an unreachable database)
 * would fail the same way again, so the primary stops the others and exits 1 instead of looping.
 * SIGTERM/SIGINT are passed on to every process; the primary exits once all have stopped (0 when all
 * stopped cleanly).
 */
export function runApiCluster({ processes, logger, shutdownTimeoutMs }: ClusterOptions): void {
  const log = logger.child({ component: 'cluster' });
  const listening = new Set<Worker>();
  let stopping = false;

  let stopped: Promise<boolean> | undefined;
  /** Passes `signal` to every api process; resolves once all exited, true when all exited cleanly. */
  function stopAll(signal: NodeJS.Signals): Promise<boolean> {
    if (!stopped) {
      stopped = new Promise<boolean>((resolve) => {
        const alive = new Set(Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w));
        let clean = true;
        const timer = setTimeout(() => {
          log.error(
            { pids: [...alive].map((w) => w.process.pid) },
            'api processes did not stop in time: killing them',
          );
          clean = false;
          for (const worker of alive) worker.process.kill('SIGKILL');
        }, shutdownTimeoutMs + 5_000);
        const settle = () => {
          if (alive.size > 0) return;
          clearTimeout(timer);
          resolve(clean);
        };
        cluster.on('exit', (worker, code, exitSignal) => {
          if (code !== 0 || exitSignal) clean = false;
          alive.delete(worker);
          settle();
        });
        for (const worker of alive) worker.process.kill(signal);
        settle();
      });
    }
    return stopped;
  }

  cluster.on('listening', (worker) => listening.add(worker));
  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker);
    if (stopping) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (!wasListening) {
      log.error(
        { pid: worker.process.pid, code, signal },
        `api process ${worker.process.pid} failed to start (${how})`,
      );
      stopping = true;
      void stopAll('SIGTERM').then(() => process.exit(1));
      return;
    }
    log.error(
      { pid: worker.process.pid, code, signal },
      `api process ${worker.process.pid} exited unexpectedly (${how}); starting a replacement`,
    );
    cluster.fork();
  });

  onShutdownSignal(log, async (signal) => {
    stopping = true;
    if (!(await stopAll(signal))) throw new Error('an api process did not stop cleanly');
  });

  log.info({ processes }, `starting ${processes} api processes on one port (WEB_CONCURRENCY=${processes})`);
  for (let i = 0; i < processes; i++) cluster.fork();
}
