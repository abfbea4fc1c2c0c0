// Fails when the Drizzle schema has changes that no committed migration captures: generates into a
// scratch copy of drizzle/ and demands drizzle-kit's "nothing to migrate".
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { relative } from 'node:path';
import { migrationsFolder } from '../src/migrate.js';

// drizzle-kit mangles absolute `out` paths, so the scratch copy lives under this package.
const scratch = mkdtempSync('.drizzle-check-');
try {
  cpSync(migrationsFolder, scratch, { recursive: true });
  const out = execFileSync('pnpm', ['exec', 'drizzle-kit', 'generate'], {
    env: { ...process.env, DRIZZLE_OUT: `./${relative(process.cwd(), scratch)}` },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (!out.includes('No schema changes')) {
    console.error(out);
    console.error(
      'db:check: the schema differs from the committed migrations. Run `pnpm db:generate --name <change>` and commit drizzle/.',
    );
    process.exit(1);
  }
  console.log('db:check: schema and migrations agree');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
