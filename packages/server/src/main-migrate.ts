// Service mode: applies migrations (and graphile-worker's schema) to DATABASE_URL, then exits.
// The one-shot `migrate` role of the image; api and worker processes never migrate.
import { ConfigError, createLogger, loadConfig } from '@woopdi/core';
import { migrate } from '@woopdi/db';
import { loadEnvFile } from './env-file.js';

try {
  loadEnvFile();
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new ConfigError('DATABASE_URL is not set: migrate needs the PostgreSQL to migrate.');
  }
  const logger = createLogger({ level: config.logLevel });
  const started = Date.now();
  await migrate(config.databaseUrl, { migrationsFolder: config.migrationsDir });
  logger.info({ ms: Date.now() - started }, 'migrations applied');
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`woopdi: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
