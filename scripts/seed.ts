// `pnpm seed [--force]`: migrates and seeds the demo world (all passwords `devpass`) into
// DATABASE_URL, or, without it, into the embedded PostgreSQL that `pnpm start` uses
// (.data/postgres, or $WOOPDI_DATA_DIR). Idempotent. Refuses when IS_PROD=true unless --force.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_PASSWORD, demoLogins, seedDemoWorld } from '@woopdi/api';
import { ConfigError, loadConfig } from '@woopdi/core';
import { createDb, migrate } from '@woopdi/db';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@woopdi/db/embedded';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const force = process.argv.slice(2).includes('--force');

const envFile = resolve(repoRoot, '.env');
if (existsSync(envFile)) process.loadEnvFile(envFile); // variables already set win

const refuseInProduction = () => {
  console.error(
    `woopdi seed: IS_PROD=true: refusing to create demo users with the password "${DEMO_PASSWORD}" (pass --force to seed anyway).`,
  );
  process.exit(1);
};

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    // Production without its secrets: the refusal is the more useful message.
    if (!force && /^(true|1)$/i.test(process.env.IS_PROD?.trim() ?? '')) refuseInProduction();
    console.error(`woopdi seed: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
if (config.isProd && !force) refuseInProduction();

const redact = (url: string) => {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
};

let embedded: EmbeddedPostgres | undefined;
// A Ctrl-C while the embedded database runs still stops it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void (embedded?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

try {
  let url = config.databaseUrl;
  if (!url) {
    const configured = process.env.WOOPDI_DATA_DIR?.trim();
    const dataDir = configured
      ? resolve(process.env.INIT_CWD ?? process.cwd(), configured)
      : resolve(repoRoot, '.data/postgres');
    embedded = await startEmbeddedPostgres({ dataDir });
    url = embedded.url;
    console.log(`Embedded PostgreSQL in ${dataDir}`);
  }
  await migrate(url);
  const handle = createDb(url, { max: 2 });
  try {
    const { created, total } = await seedDemoWorld({ db: handle.db });
    const nothing = created.users + created.organizations + created.memberships === 0;
    console.log(
      nothing
        ? `${redact(url)}: the demo world is already there (${total.users} users, ${total.organizations} organizations, ${total.memberships} memberships); nothing changed.`
        : `${redact(url)}: created ${created.users} users, ${created.organizations} organizations, ${created.memberships} memberships.`,
    );
  } finally {
    await handle.close();
  }
  const width = Math.max(...demoLogins.map((l) => l.email.length)) + 2;
  console.log(`\nDemo logins, password: ${DEMO_PASSWORD}`);
  for (const login of demoLogins) console.log(`  ${login.email.padEnd(width)}${login.role}`);
} catch (error) {
  console.error(`woopdi seed: ${(error as Error)?.message ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await embedded?.stop();
}
