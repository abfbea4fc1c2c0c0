export type { ApiDeps, Context, RequestMeta, Session } from './context.js';
export { createContextFactory } from './context.js';
export { appErrorOf } from './errors.js';
export { createOpenApiDocument } from './openapi.js';
export { type AppRouter, appRouter } from './root.js';
export {
  DEMO_PASSWORD,
  type DemoEmail,
  type DemoTeamName,
  demoLogins,
  type SeedCounts,
  type SeededIds,
  seedDemoWorld,
  seededIds,
} from './seed.js';
export { type AccessTokens, createAccessTokens } from './services/access-tokens.js';
export type { ServiceDeps } from './services/deps.js';
export { openTaskStream } from './streams.js';
export { createCallerFactory } from './trpc.js';
