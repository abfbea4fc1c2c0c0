export { type AuthCache, createAuthCache } from './auth-cache.js';
export type { ApiDeps, Context, RequestMeta, Session } from './context.js';
export { createContextFactory } from './context.js';
export { appErrorOf } from './errors.js';
export { isApiKeyToken } from './middleware/api-key-auth.js';
export { authenticate } from './middleware/auth.js';
export { assertSupportMay, logImpersonation, runAsSupport } from './middleware/impersonation.js';
export { type Membership, requireMembership, requireMembershipOf } from './middleware/membership.js';
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
export { getAsset, isPendingUpload, uploadStream } from './services/assets.js';
export { BILLING_DISABLED, receiveStripeEvent, verifyStripeWebhook } from './services/billing.js';
export type { ServiceDeps } from './services/deps.js';
export { finishAuthorization, OAUTH_STATE_TTL_MS, startAuthorization } from './services/oauth.js';
export {
  authorizeTaskStream,
  type FanoutStats,
  type FeedEntry,
  type Follow,
  type FollowEnd,
  type FollowerSink,
  getTaskFanout,
  openTaskStream,
  type PendingFollow,
  type TaskFanout,
  type TaskStreamScope,
} from './streams.js';
export { createCallerFactory } from './trpc.js';
