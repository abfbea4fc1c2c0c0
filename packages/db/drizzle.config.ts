import { defineConfig } from 'drizzle-kit';

// DRIZZLE_OUT lets `pnpm db:check` generate into a scratch copy and compare.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema/index.ts',
  out: process.env.DRIZZLE_OUT ?? '../../drizzle',
  casing: undefined,
});
