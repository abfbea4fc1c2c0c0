// Service mode: one worker process (run any number). It never migrates: run `pnpm db:migrate` first.
import { createServer } from 'node:http';
import { ConfigError, loadConfig, registry } from '@woopdi/core';
import { startWorker } from '@woopdi/worker';
import { loadEnvFile } from './env-file.js';
import { createRuntime } from './runtime.js';
import { onShutdownSignal } from './shutdown.js';

try {
  loadEnvFile();
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new ConfigError(
      'DATABASE_URL is not set: the worker process needs the PostgreSQL that holds the job queue (or run `pnpm start` for the embedded all-in-one mode).',
    );
  }
  const runtime = createRuntime(config, config.databaseUrl);
  const worker = await startWorker({
    databaseUrl: config.databaseUrl,
    db: runtime.dbHandle.db,
    config,
    logger: runtime.logger,
    bus: runtime.bus,
    storage: runtime.storage,
  });
  runtime.logger.info(
    { mail: config.sendgrid ? 'sendgrid' : 'outbox', bus: runtime.bus.kind },
    `Woopdi worker running (mail: ${config.sendgrid ? 'SendGrid' : 'outbox log'}, events: ${runtime.bus.kind})`,
  );
  // Job metrics for Prometheus, when asked for: a worker serves no other HTTP.
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : createServer((req, res) => {
          if (req.url !== '/metrics') return void res.writeHead(404).end();
          void registry
            .metrics()
            .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
        }).listen(config.metricsPort, config.metricsHost);
  let stopping = false;
  onShutdownSignal(runtime.logger, async () => {
    stopping = true;
    metricsServer?.close();
    await worker.stop();
    await runtime.close();
  });
  // A runner that ends by itself (fatal queue error) leaves a process doing nothing: exit, so the
  // supervisor (docker, systemd, k8s) restarts it.
  worker.runner.promise.then(
    () => !stopping && process.exit(1),
    () => !stopping && process.exit(1),
  );
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`woopdi: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
