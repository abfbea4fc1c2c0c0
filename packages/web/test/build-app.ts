// Vitest global setup: the browser tests run what `pnpm start` runs, the compiled server and the
// built app, so both are built once per run when missing or older than their sources.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../server/scripts/build-if-stale.mjs', import.meta.url));

export default function buildApp(): void {
  execFileSync(process.execPath, [script, '--web'], { stdio: 'inherit' });
  // build-if-stale starts without the app when Vite fails; these tests need it.
  execFileSync(process.execPath, [script, '--web', '--check'], { stdio: 'inherit' });
}
