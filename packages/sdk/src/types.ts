import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from './router.js';

export type { AppRouter };

/** Inputs of every procedure: `RouterInputs['organizations']['create']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Outputs of every procedure: `RouterOutputs['users']['me']`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/**
 * What auth.login, auth.signup and auth.refresh hand out:
 * `{ tokenType: 'Bearer', accessToken, accessTokenExpiresAt, refreshToken, refreshTokenExpiresAt }`
 * (times as ISO-8601 strings). Safe to `JSON.stringify` into storage and pass back as `tokens`.
 */
export type WoopdiTokens = RouterOutputs['auth']['refresh'];

/** The signed-in user, as users.me and auth.login return it. */
export type WoopdiUser = RouterOutputs['users']['me'];
