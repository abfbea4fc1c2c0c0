// @woopdi/sdk: the typed client for a Woopdi backend. Imports only the *type* of the server's router,
// so no server code reaches a browser bundle.
export { isTRPCClientError, TRPCClientError } from '@trpc/client';
export {
  createWoopdiClient,
  type FetchLike,
  type WoopdiClient,
  type WoopdiClientOptions,
} from './client.js';
export type { TokensListener } from './session.js';
export type { EventSourceConstructor, WebSocketConstructor } from './subscriptions.js';
export {
  type FollowOptions,
  isTerminalTaskEvent,
  type TaskEvent,
  type TaskEventIterator,
  type TaskEventsOptions,
  type TaskEventType,
  type TaskFollow,
  type WoopdiTasks,
} from './tasks.js';
export type { AppRouter, RouterInputs, RouterOutputs, WoopdiTokens, WoopdiUser } from './types.js';
