import { z } from 'zod';
import { message, recoveryCode, token, tokens, totpCode, user } from '../schemas.js';
import * as twoFactor from '../services/two-factor.js';
import { authedProcedure, publicProcedure, router } from '../trpc.js';

const tags = ['auth'];

/** Exactly one of two proofs: `{ a }` or `{ b }`. */
const oneOf =
  (a: string, b: string) =>
  (input: Record<string, unknown>): boolean =>
    (input[a] === undefined) !== (input[b] === undefined);

const codeRateLimit =
  'Too many wrong two-factor codes for this account (RATE_LIMIT_TWO_FACTOR): wait `Retry-After` seconds.';

/** auth.twoFactor.*: TOTP two-factor (enroll → confirm; disable; the sign-in's second step). */
export const twoFactorRouter = router({
  enroll: authedProcedure
    .meta({
      // The account's own credentials: never from a support session (admin.impersonate).
      support: 'never',
      openapi: {
        method: 'POST',
        path: '/auth/2fa/enroll',
        errorResponses: { 409: 'Two-factor is already on: turn it off first to use another authenticator.' },
        tags,
        summary: 'Start enrolling an authenticator app',
        description:
          'Answers a new TOTP secret (SHA-1, 6 digits, 30 s), its `otpauth://` URI and a QR code of it (an SVG data URL) to scan with an authenticator app. Nothing changes for sign-in until POST /auth/2fa/confirm; enrolling again replaces an unconfirmed secret. The secret is stored sealed with ENCRYPTION_KEY.',
      },
    })
    .input(z.void())
    .output(
      z.object({
        secret: z.string().describe('Base32, for typing into an app that cannot scan'),
        otpauthUri: z.string(),
        qrCodeSvgDataUrl: z.string().describe('data:image/svg+xml;base64,… — use as an <img src>'),
      }),
    )
    .mutation(({ ctx }) => twoFactor.enroll(ctx, ctx.session)),

  confirm: authedProcedure
    .meta({
      support: 'never',
      openapi: {
        method: 'POST',
        path: '/auth/2fa/confirm',
        errorResponses: {
          400: 'The code is not right (or was already used), or there is no enrollment to confirm (POST /auth/2fa/enroll first).',
          409: 'Two-factor is already on.',
          429: codeRateLimit,
        },
        tags,
        summary: 'Turn two-factor on with a first code',
        description:
          'Checks a code from the enrolled app and turns two-factor on: from then on signing in asks for a code. Answers 10 recovery codes, shown this once (stored hashed; each works once). Signs out every other session and emails the account.',
      },
    })
    .input(z.object({ code: totpCode }))
    .output(message.extend({ recoveryCodes: z.array(z.string()) }))
    .mutation(({ ctx, input }) => twoFactor.confirm(ctx, ctx.session, input.code)),

  disable: authedProcedure
    .meta({
      support: 'never',
      openapi: {
        method: 'POST',
        path: '/auth/2fa/disable',
        errorResponses: {
          400: 'Send either `code` or `password`, and a right one.',
          409: 'Two-factor is not on.',
          429: codeRateLimit,
        },
        tags,
        summary: 'Turn two-factor off',
        description:
          'Needs a current code from the authenticator app (`code`) or the account password (`password`). Deletes the secret and the recovery codes, signs out every other session and emails the account.',
      },
    })
    .input(
      z
        .object({ code: totpCode.optional(), password: z.string().min(1).max(256).optional() })
        .refine(oneOf('code', 'password'), { message: 'Send either `code` or `password`' }),
    )
    .output(message)
    .mutation(({ ctx, input }) => twoFactor.disable(ctx, ctx.session, input)),

  verify: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/2fa/verify',
        errorResponses: {
          400: 'Send `challengeToken` and either `code` or `recoveryCode`.',
          401: 'The code or recovery code is not right or was already used, or the challenge is unknown, used or expired (sign in again).',
          429: codeRateLimit,
        },
        tags,
        protect: false,
        summary: "Finish a sign-in's two-factor step",
        description:
          'Takes the `challengeToken` that POST /auth/login answered (`twoFactorRequired: true`, valid 5 minutes, once) with a current code from the authenticator app, or one of the recovery codes (which is then used up). Answers what a sign-in without two-factor answers: the user and the tokens. A wrong code leaves the challenge usable until it expires.',
      },
    })
    .input(
      z
        .object({ challengeToken: token, code: totpCode.optional(), recoveryCode: recoveryCode.optional() })
        .refine(oneOf('code', 'recoveryCode'), { message: 'Send either `code` or `recoveryCode`' }),
    )
    .output(z.object({ user, tokens }))
    .mutation(({ ctx, input }) => twoFactor.verify(ctx, input, { ip: ctx.ip, userAgent: ctx.userAgent })),
});
