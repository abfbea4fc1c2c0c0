import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate as drizzleMigrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

/** The committed SQL migrations at the repository root. */
export const migrationsFolder = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/**
 * Applies every pending migration, and installs or upgrades graphile-worker's schema (the job
 * queue lives in the same database, so jobs can be added in the transaction that causes them).
 * Idempotent.
 */
export async function migrate(url: string, options: { migrationsFolder?: string } = {}): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await drizzleMigrate(drizzle(sql), { migrationsFolder: options.migrationsFolder ?? migrationsFolder });
  } finally {
    await sql.end({ timeout: 5 });
  }
  // Loaded here, not at import: processes that never migrate (an api) do not pay for it at start-up.
  const { runMigrations: installJobQueue, Logger } = await import('graphile-worker');
  await installJobQueue({ connectionString: url, logger: new Logger(() => () => {}) });
}
