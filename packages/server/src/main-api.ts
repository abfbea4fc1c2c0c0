// Service mode: one api process. Run migrations first with `pnpm db:migrate`.
import { ConfigError, loadConfig } from '@woopdi/core';
import { loadEnvFile } from './env-file.js';
import { startApiServer } from './http-server.js';
import { createRuntime } from './runtime.js';
import { onShutdownSignal } from './shutdown.js';

try {
  loadEnvFile();
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new ConfigError(
      'DATABASE_URL is not set: the api process needs PostgreSQL (or run `pnpm start` for the embedded all-in-one mode).',
    );
  }
  const runtime = createRuntime(config, config.databaseUrl);
  const api = await startApiServer(runtime);
  runtime.logger.info({ url: api.url }, `Woopdi API listening on ${api.url} (docs: ${api.url}/docs)`);
  onShutdownSignal(runtime.logger, async () => {
    await api.stop();
    await runtime.close();
  });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`woopdi: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
