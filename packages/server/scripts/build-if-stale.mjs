// Builds the compiled runtime (dist/ of db, core, api, worker and server, through `tsc -b`) when it
// is missing or older than its sources, so `pnpm start` and the process tests always run current
// JavaScript on a fresh clone. When nothing changed it only compares modification times (a few ms).
// With --web it does the same for the web app (packages/web/dist, through `vite build`), which the
// all-in-one process serves at `/`. Plain JavaScript on purpose: it runs before anything is compiled.
//   node scripts/build-if-stale.mjs           build when stale
//   node scripts/build-if-stale.mjs --web     and the web app too (what `pnpm start` runs)
//   node scripts/build-if-stale.mjs --check   exit 1 when stale, build nothing (--web: the app too)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The runtime packages, in build order; each has a tsconfig.build.json (server's references the rest). */
const runtimePackages = ['db', 'core', 'api', 'worker', 'server'];
const stampFile = join(packagesDir, 'server/dist/.build-stamp');

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

/** The newest modification time of any file under `dir`. */
function newestIn(dir) {
  let newest = mtime(dir) ?? 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : (mtime(path) ?? 0));
  }
  return newest;
}

/** Why the build is stale (a reason for the log), or undefined when dist/ is current. */
export function staleReason() {
  const stamp = mtime(stampFile);
  if (stamp === undefined) return 'no build stamp';
  const inputs = [join(repoRoot, 'tsconfig.base.json')];
  for (const name of runtimePackages) {
    const dir = join(packagesDir, name);
    if (mtime(join(dir, 'dist/index.js')) === undefined) return `packages/${name}/dist is missing`;
    inputs.push(join(dir, 'package.json'), join(dir, 'tsconfig.build.json'));
    if (newestIn(join(dir, 'src')) > stamp) return `packages/${name}/src changed`;
  }
  const changed = inputs.find((path) => (mtime(path) ?? 0) > stamp);
  return changed && `${changed.slice(repoRoot.length)} changed`;
}

const webDir = join(packagesDir, 'web');
const webStampFile = join(webDir, 'dist/.build-stamp');
/** What the app's bundle is made of: its own sources and the SDK's (bundled into it). */
const webInputs = () => [
  ...['index.html', 'vite.config.ts', 'package.json', 'tsconfig.json'].map((f) => join(webDir, f)),
  join(packagesDir, 'sdk/package.json'),
];
const webInputDirs = () => [join(webDir, 'src'), join(webDir, 'public'), join(packagesDir, 'sdk/src')];

/** Why the web app's build is stale, or undefined when it is current (or there is no web package). */
export function webStaleReason() {
  if (!existsSync(join(webDir, 'package.json'))) return undefined;
  const stamp = mtime(webStampFile);
  if (stamp === undefined) return 'packages/web/dist is missing';
  const dir = webInputDirs().find((d) => existsSync(d) && newestIn(d) > stamp);
  if (dir) return `${dir.slice(repoRoot.length)} changed`;
  const changed = webInputs().find((path) => (mtime(path) ?? 0) > stamp);
  return changed && `${changed.slice(repoRoot.length)} changed`;
}

/** `vite build` in packages/web: 'built', 'failed', or 'unavailable' (Vite is not installed). */
export function buildWeb() {
  let vite;
  try {
    // vite's exports hide its bin; its package.json names it.
    const manifest = createRequire(join(webDir, 'package.json')).resolve('vite/package.json');
    vite = join(dirname(manifest), 'bin/vite.js');
  } catch {
    return 'unavailable';
  }
  const started = Date.now();
  // NODE_ENV=production whatever the caller runs under (test, CI): else React's development build ships.
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: webDir,
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) return 'failed';
  writeFileSync(webStampFile, `${new Date(started).toISOString()}\n`);
  utimesSync(webStampFile, started / 1000, started / 1000);
  return 'built';
}

const emitted = () => runtimePackages.every((name) => mtime(join(packagesDir, name, 'dist/index.js')));

/**
 * Runs `tsc -b` on the server's build project (and so on every package it references): 'built',
 * 'type-errors' (tsc reported errors but emitted JavaScript; not stamped, so the next run reports them
 * again) or 'failed' (nothing to run).
 */
export function build() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = Date.now();
  const result = spawnSync(process.execPath, [tsc, '-b', join(packagesDir, 'server/tsconfig.build.json')], {
    stdio: 'inherit',
  });
  if (result.status !== 0) return emitted() ? 'type-errors' : 'failed';
  // Stamped with the start time: a source saved while tsc ran still counts as newer.
  writeFileSync(stampFile, `${new Date(started).toISOString()}\n`);
  utimesSync(stampFile, started / 1000, started / 1000);
  return 'built';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reason = staleReason();
  const web = process.argv.includes('--web');
  const webReason = web ? webStaleReason() : undefined;
  if (process.argv.includes('--check')) {
    if (reason) console.error(`woopdi: the compiled runtime is stale (${reason}): run pnpm build`);
    if (webReason) console.error(`woopdi: the web app's build is stale (${webReason}): run pnpm build`);
    process.exit(reason || webReason ? 1 : 0);
  }
  if (reason) {
    console.error(`woopdi: building the compiled runtime (${reason})…`);
    const outcome = build();
    if (outcome === 'failed') {
      console.error('woopdi: the build failed (see the errors above); fix them and start again.');
      process.exit(1);
    }
    // Like running the sources through tsx: type errors are reported, the emitted code still runs.
    if (outcome === 'type-errors') console.error('woopdi: type errors (above); running what tsc emitted.');
  }
  if (webReason) {
    console.error(`woopdi: building the web app (${webReason})…`);
    const outcome = buildWeb();
    // The API works without its web app: say why it is missing and go on.
    if (outcome === 'failed')
      console.error('woopdi: the web app did not build (errors above); starting without it.');
    if (outcome === 'unavailable')
      console.error(
        'woopdi: Vite is not installed (pnpm install), so the web app is not built; starting without it.',
      );
  }
}
