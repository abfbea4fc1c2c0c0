import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig, loadEnv } from 'vite';

// `pnpm --filter @woopdi/web dev` serves the app on :3000 (the server's WEB_CLIENT_URL default) and
// proxies the API's paths to a running server, so the page and the API share one origin (no CORS,
// and the SDK's default URL, the page's origin, just works). WOOPDI_API_PROXY picks the server.
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), '');
  const target = env.WOOPDI_API_PROXY || 'http://localhost:8000';
  const proxied = ['/trpc', '/api', '/storage', '/tasks', '/openapi.json', '/docs', '/healthz'];
  return {
    plugins: [react()],
    // The SDK's TypeScript sources when it offers them (workspace), else its published build.
    resolve: {
      conditions: ['@woopdi/source', ...defaultClientConditions],
      dedupe: ['react', 'react-dom', '@tanstack/react-query', '@trpc/client', '@trpc/server'],
    },
    server: {
      port: 3000,
      strictPort: true,
      proxy: Object.fromEntries(proxied.map((path) => [path, { target, changeOrigin: true, ws: true }])),
    },
    preview: { port: 3000 },
    build: { outDir: 'dist', sourcemap: true, chunkSizeWarningLimit: 600 },
  };
});
