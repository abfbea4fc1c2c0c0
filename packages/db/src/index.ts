export * from './client.js';
export { migrate, migrationsFolder } from './migrate.js';
export * from './schema/index.js';
