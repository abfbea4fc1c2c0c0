import { z } from 'zod';
import {
  authResult,
  email,
  message,
  password,
  personName,
  signInResult,
  token,
  tokens,
  user,
} from '../schemas.js';
import * as auth from '../services/auth.js';
import * as oauth from '../services/oauth.js';
import { authedProcedure, publicProcedure, router } from '../trpc.js';
import { twoFactorRouter } from './two-factor.js';

const tags = ['auth'];
const client = (ctx: { ip: string | null; userAgent: string | null }) => ({
  ip: ctx.ip,
  userAgent: ctx.userAgent,
});

export const authRouter = router({
  signup: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/signup',
        errorResponses: {
          409: 'An account with this email already exists: sign in, or reset the password.',
          429: 'Too many sign-ups from your address (RATE_LIMIT_SIGNUP): wait `Retry-After` seconds.',
        },
        tags,
        protect: false,
        summary: 'Create an account',
        description:
          'Creates the user and their personal (solo) organization, sends the verification email, and signs in. Signing in works before the email is verified; `user.emailVerified` tells.',
      },
    })
    .input(z.object({ email, password, name: personName.optional() }))
    .output(authResult)
    .mutation(({ ctx, input }) => auth.signup(ctx, input, client(ctx))),

  login: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/login',
        errorResponses: {
          401: 'Wrong email or password (one message for both), or the account is disabled.',
          429: 'Too many attempts for this account or from your address (RATE_LIMIT_LOGIN, RATE_LIMIT_LOGIN_ADDRESS), counted before the password check: wait `Retry-After` seconds.',
        },
        tags,
        protect: false,
        summary: 'Sign in with email and password',
        description:
          'Returns a 15-minute access token and a rotating refresh token (`twoFactorRequired: false`). With two-factor on, it returns `twoFactorRequired: true` and a `challengeToken` instead: finish with POST /auth/2fa/verify. Wrong email and wrong password give the same 401.',
      },
    })
    .input(z.object({ email, password: z.string().min(1).max(256) }))
    .output(signInResult)
    .mutation(({ ctx, input }) => auth.login(ctx, input, client(ctx))),

  refresh: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/refresh',
        errorResponses: {
          401: 'The refresh token is unknown, expired or revoked, or was already used (which ends that whole sign-in): sign in again.',
        },
        tags,
        protect: false,
        summary: 'Exchange a refresh token for new tokens',
        description:
          'Every refresh token works once. Presenting one that was already used ends every session of that sign-in.',
      },
    })
    .input(z.object({ refreshToken: z.string().min(10).max(200) }))
    .output(tokens)
    .mutation(({ ctx, input }) => auth.refresh(ctx, input.refreshToken, client(ctx))),

  logout: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/logout',
        tags,
        summary: 'Sign out',
        description:
          'Ends this sign-in (its access and refresh tokens stop working), or every sign-in with `everywhere: true`. Refused (403) in a support session: end it with `POST /admin/impersonation/end`.',
      },
      support: 'never',
    })
    .input(z.object({ everywhere: z.boolean().default(false) }).default({ everywhere: false }))
    .output(message)
    .mutation(({ ctx, input }) => auth.logout(ctx, ctx.session, input.everywhere)),

  verifyEmail: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/verify-email',
        tags,
        protect: false,
        summary: 'Confirm an email address with the emailed token',
        description:
          'Unknown or used tokens answer 404; an expired one answers 400 saying how to get a new one.',
      },
    })
    .input(z.object({ token }))
    .output(message.extend({ user }))
    .mutation(({ ctx, input }) => auth.verifyEmail(ctx, input.token)),

  resendVerification: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/resend-verification',
        tags,
        protect: false,
        summary: 'Send a new verification link',
        description: 'Answers the same whether or not the email has an account.',
      },
    })
    .input(z.object({ email }))
    .output(message)
    .mutation(({ ctx, input }) => auth.resendVerification(ctx, input.email, client(ctx))),

  requestPasswordReset: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/request-password-reset',
        errorResponses: {
          429: 'Too many reset requests from your address (RATE_LIMIT_PASSWORD_RESET): wait `Retry-After` seconds.',
        },
        tags,
        protect: false,
        summary: 'Email a password reset link',
        description:
          'Answers the same whether or not the email has an account. The link is valid for 2 hours, once.',
      },
    })
    .input(z.object({ email }))
    .output(message)
    .mutation(({ ctx, input }) => auth.requestPasswordReset(ctx, input.email, client(ctx))),

  resetPassword: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/reset-password',
        errorResponses: {
          400: 'Invalid input, or the link expired (the message says how to get a new one).',
          404: 'The link is unknown or was already used.',
        },
        tags,
        protect: false,
        summary: 'Set a new password with the emailed token',
        description: 'Signs out every session of the account.',
      },
    })
    .input(z.object({ token, newPassword: password }))
    .output(message)
    .mutation(({ ctx, input }) => auth.resetPassword(ctx, input.token, input.newPassword)),

  oauthProviders: publicProcedure
    .meta({
      configOnly: true,
      openapi: {
        method: 'GET',
        path: '/auth/oauth/providers',
        tags,
        protect: false,
        summary: 'Sign-in providers configured on this server',
        description:
          'Google (GOOGLE_CLIENT_ID/_SECRET), GitHub (GITHUB_CLIENT_ID/_SECRET) and OpenID Connect issuers (OIDC_<NAME>_ISSUER/_CLIENT_ID/_CLIENT_SECRET), each only when configured. To sign in, send the browser to `startUrl?redirectTo=<a page of the web app>`; the callback comes back to `redirectTo` with `?code=` (exchange it with POST /auth/oauth/exchange) or `?error=<message>`.',
      },
    })
    .input(z.void())
    .output(
      z.object({
        providers: z.array(
          z.object({
            name: z.string().describe('Used in /oauth/{name}/start and in linked identities'),
            label: z.string().describe('What a sign-in button says'),
            kind: z.enum(['oidc', 'github']),
            startUrl: z.string().describe('GET it in the browser with ?redirectTo=…'),
          }),
        ),
      }),
    )
    .query(({ ctx }) => oauth.listProviders(ctx)),

  oauthExchange: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/oauth/exchange',
        errorResponses: {
          400: 'The code expired (it lives 2 minutes): sign in with the provider again.',
          401: 'The account is disabled.',
          404: 'The code is unknown or was already used (each works once): sign in with the provider again.',
        },
        tags,
        protect: false,
        summary: 'Exchange the one-time code of an OAuth sign-in for tokens',
        description:
          'The OAuth callback sends the browser to `redirectTo?code=<code>`; this answers the same as POST /auth/login (with two-factor on: `{ twoFactorRequired: true, challengeToken }`, finished at POST /auth/2fa/verify). The code works once, within 2 minutes; tokens never travel in a URL.',
      },
    })
    .input(z.object({ code: token }))
    .output(signInResult)
    .mutation(({ ctx, input }) => oauth.exchangeCode(ctx, input.code, client(ctx))),

  /** auth.twoFactor.enroll / confirm / disable / verify. */
  twoFactor: twoFactorRouter,
});
