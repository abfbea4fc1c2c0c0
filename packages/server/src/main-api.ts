// Service mode: one api process, or with WEB_CONCURRENCY=N a node:cluster primary running N of them
// on one port. Run migrations first with `pnpm db:migrate`.
import './heap-tuning.js'; // first: before the other modules allocate
import cluster from 'node:cluster';
import { ConfigError, createLogger, loadConfig } from '@woopdi/core';
import { loadEnvFile } from './env-file.js';

try {
  loadEnvFile();
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new ConfigError(
      'DATABASE_URL is not set: the api process needs PostgreSQL (or run `pnpm start` for the embedded all-in-one mode).',
    );
  }
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    // The primary only forks and supervises: it never loads the api itself.
    const { runApiCluster } = await import('./cluster.js');
    const logger = createLogger({ level: config.logLevel });
    if (!config.redisUrl) {
      logger.warn(
        'WEB_CONCURRENCY without REDIS_URL: each api process has its own in-process event bus, so session revocations, permission changes and rate limits are not shared between them. Set REDIS_URL.',
      );
    }
    runApiCluster({
      processes: config.webConcurrency,
      logger,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
    });
  } else {
    const [{ startApiServer }, { createRuntime }, { onShutdownSignal }] = await Promise.all([
      import('./http-server.js'),
      import('./runtime.js'),
      import('./shutdown.js'),
    ]);
    const runtime = createRuntime(config, config.databaseUrl);
    const api = await startApiServer(runtime);
    runtime.logger.info({ url: api.url }, `Woopdi API listening on ${api.url} (docs: ${api.url}/docs)`);
    onShutdownSignal(runtime.logger, async () => {
      await api.stop();
      await runtime.close();
    });
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`woopdi: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
