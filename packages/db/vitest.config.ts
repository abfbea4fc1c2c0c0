import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources (export condition `@woopdi/source`), not dist.
  ssr: { resolve: { conditions: ['@woopdi/source', 'module', 'node', 'development|production'] } },
  test: {
    globalSetup: ['./src/test-global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
