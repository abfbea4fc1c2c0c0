import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Loads the repository's .env, if there is one; variables already in the environment win. */
export function loadEnvFile(): void {
  const path = fileURLToPath(new URL('../../../.env', import.meta.url));
  if (existsSync(path)) process.loadEnvFile(path);
}
