// Test databases: one migrated template per migration set, and one fresh clone per test file.
// Used by every package's vitest setup; never by production code.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { migrate, migrationsFolder } from './migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by the global setup: where to create test databases, and the template to clone. */
    testDb: { adminUrl: string; template: string };
    /** Set by the global setup: the Redis that answered PING, or null when none did. */
    testRedisUrl: string | null;
  }
}

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The Redis the test run may use, or null when none answered (outside CI): skip Redis-backed tests
 * then, for example `describe.skipIf(!redisTestUrl())`.
 */
export function redisTestUrl(): string | null {
  return inject('testRedisUrl') ?? null;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function migrationsHash(): string {
  const h = createHash('sha256');
  const files = readdirSync(migrationsFolder).filter((f) => f.endsWith('.sql'));
  for (const f of files.sort()) h.update(f).update(readFileSync(join(migrationsFolder, f)));
  return h.digest('hex').slice(0, 12);
}

/** Resolves true when a Postgres server answers at `url`. */
export async function canConnect(url: string, timeoutSeconds = 3): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: timeoutSeconds, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Creates (once per migration set) a migrated template database and returns its name. The name
 * carries a hash of the migrations, so a changed migration gets a fresh template.
 */
export async function ensureTemplate(adminUrl: string): Promise<string> {
  const name = `woopdi_template_${migrationsHash()}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    // Serialises concurrent test runs that would build the same template.
    await admin`select pg_advisory_lock(hashtext(${name}))`;
    const [found] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!found) {
      const building = `${name}_building`;
      await admin.unsafe(`drop database if exists "${building}"`);
      await admin.unsafe(`create database "${building}"`);
      await migrate(withDatabase(adminUrl, building));
      await admin.unsafe(`alter database "${building}" rename to "${name}"`);
    }
    await admin`select pg_advisory_unlock(hashtext(${name}))`;
  } finally {
    await admin.end({ timeout: 5 });
  }
  return name;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Clones the template into a new database for one test file. */
export async function createTestDatabase(adminUrl: string, template: string): Promise<TestDatabase> {
  const name = `woopdi_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    url: withDatabase(adminUrl, name),
    name,
    async drop() {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end({ timeout: 5 });
      }
    },
  };
}

/** Jobs waiting in graphile-worker's queue (its public `jobs` view hides payloads). */
export async function queuedJobs(
  sql: postgres.Sql,
  taskIdentifier: string,
): Promise<Array<{ id: string; payload: Record<string, unknown>; attempts: number; key: string | null }>> {
  const rows = await sql`
    select j.id::text as id, j.payload, j.attempts, j.key
    from graphile_worker._private_jobs j
    join graphile_worker._private_tasks t on t.id = j.task_id
    where t.identifier = ${taskIdentifier}
    order by j.id`;
  return rows as unknown as Array<{
    id: string;
    payload: Record<string, unknown>;
    attempts: number;
    key: string | null;
  }>;
}
