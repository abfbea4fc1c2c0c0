import { migrate } from './migrate.js';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    'DATABASE_URL is not set: export DATABASE_URL=postgres://user:pass@host:5432/db and run again.',
  );
  process.exit(1);
}
await migrate(url);
console.log('migrations applied');
