// Vitest global setup: the process tests (startup, service mode, embedded, cluster) run the compiled
// runtime, `node dist/main-*.js`, as production does. Build it once per run when it is missing or
// older than the sources (a few milliseconds when it is current).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function buildRuntime(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build-if-stale.mjs', import.meta.url))], {
    stdio: 'inherit',
  });
}
