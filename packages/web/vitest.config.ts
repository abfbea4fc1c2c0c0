import { defineConfig } from 'vitest/config';

// Browser tests: the built app served by the real built server, driven in Chromium (test/*.test.ts).
export default defineConfig({
  // Workspace packages the tests use (the database helpers) resolve to their TypeScript sources.
  ssr: { resolve: { conditions: ['@woopdi/source', 'module', 'node', 'development|production'] } },
  test: {
    globalSetup: ['@woopdi/db/test-global-setup', './test/build-app.ts'],
    include: ['test/**/*.test.ts'],
    // One Chromium and one server at a time: the machine has two cores.
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
});
