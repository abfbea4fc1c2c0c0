// Vitest globalSetup shared by every package: finds PostgreSQL, builds the migrated template once,
// and hands its coordinates to the test files through `inject('testDb')`.
import type { TestProject } from 'vitest/node';
import { canConnect, DEFAULT_TEST_DATABASE_URL, ensureTemplate } from './testing.js';

export default async function setup(project: TestProject) {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  if (!(await canConnect(adminUrl))) {
    throw new Error(
      `No PostgreSQL answers at ${adminUrl}. Start one, or set TEST_DATABASE_URL to a server the tests may create databases on.`,
    );
  }
  const template = await ensureTemplate(adminUrl);
  project.provide('testDb', { adminUrl, template });
}
