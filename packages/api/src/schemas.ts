// Input and output shapes shared by routers. Outputs carry ISO-8601 strings for times, so tRPC and
// REST clients see the same JSON.
import { uuid } from '@woopdi/core';
import { z } from 'zod';

export const email = z
  .email({ message: 'Enter a valid email address, like name@example.com' })
  .max(254)
  .transform((e) => e.trim().toLowerCase());
export const password = z
  .string()
  .min(8, { message: 'Use at least 8 characters' })
  .max(256, { message: 'Use at most 256 characters' });
export const personName = z.string().trim().min(1).max(120);
export const orgName = z.string().trim().min(1, { message: 'Give the organization a name' }).max(120);
export const token = z.string().min(10, { message: 'The token is missing or malformed' }).max(200);
export const isoDate = z.iso.datetime({ offset: true });
/**
 * A boolean that may also arrive as the text of a REST query string. The OpenAPI bridge would
 * otherwise coerce it with Boolean(), which turns `?flag=false` into true.
 */
export const queryBoolean = z.preprocess(
  (v: boolean | 'true' | 'false') => (v === 'true' ? true : v === 'false' ? false : v),
  z.boolean(),
);
export const systemRole = z.enum(['superadmin', 'admin', 'user']);
export const orgRole = z.enum(['ADMIN', 'MODERATOR', 'MEMBER']);

export const message = z.object({ message: z.string() });

export const tokens = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string(),
  accessTokenExpiresAt: isoDate,
  refreshToken: z.string(),
  refreshTokenExpiresAt: isoDate,
});

export const user = z.object({
  id: uuid(),
  email: z.string(),
  name: z.string().nullable(),
  systemRole,
  emailVerified: z.boolean(),
  emailVerifiedAt: isoDate.nullable(),
  lastActiveOrganizationId: uuid().nullable(),
  createdAt: isoDate,
});

/** users.me: the user, and who is acting as them when the request comes from a support session. */
export const me = user.extend({
  impersonatedBy: z
    .object({
      userId: uuid(),
      email: z.string(),
      reason: z.string(),
      allowWrite: z.boolean(),
      impersonationId: uuid(),
    })
    .nullable()
    .optional()
    .describe('Set when a superadmin is acting as this user (support impersonation); null otherwise'),
});

export const authResult = z.object({ user, tokens });

/** A 6-digit TOTP code from an authenticator app. */
export const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, { message: 'Enter the 6-digit code from your authenticator app' });
export const recoveryCode = z.string().trim().min(10).max(32);

/**
 * What a sign-in answers: the tokens, or — with two-factor on — a challenge for
 * auth.twoFactor.verify. `twoFactorRequired` tells which (a oneOf in the OpenAPI document).
 */
export const signInResult = z
  // A plain oneOf, not a discriminatedUnion: OpenAPI discriminators are strings, and generators
  // (openapi-typescript) would retype the boolean as "true" | "false".
  .union([
    authResult.extend({ twoFactorRequired: z.literal(false) }).meta({ id: 'SignedIn' }),
    z
      .object({
        twoFactorRequired: z.literal(true),
        challengeToken: z.string(),
        challengeExpiresAt: isoDate,
      })
      .meta({
        id: 'TwoFactorChallenge',
        description:
          'Two-factor is on: send `challengeToken` with a code from the authenticator app (or a recovery code) to POST /auth/2fa/verify within 5 minutes.',
      }),
  ])
  .meta({ id: 'SignInResult', unionOneOf: true });

export const organization = z.object({
  id: uuid(),
  name: z.string(),
  slug: z.string(),
  isSolo: z.boolean(),
  ownerUserId: uuid(),
  plan: z.string(),
  requireTwoFactor: z.boolean(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export const membershipSummary = z.object({
  organizationId: uuid(),
  organizationName: z.string(),
  slug: z.string(),
  isSolo: z.boolean(),
  role: orgRole,
  isOwner: z.boolean(),
  joinedAt: isoDate,
});

export const limit = z.coerce.number().int().min(1).max(100).default(50);
export const cursor = z.string().max(200).optional();

export const member = z.object({
  userId: uuid(),
  email: z.string(),
  name: z.string().nullable(),
  role: orgRole,
  isOwner: z.boolean(),
  twoFactorEnabled: z.boolean(),
  joinedAt: isoDate,
});

export const invitationStatus = z.enum(['pending', 'accepted', 'revoked', 'expired']);

export const invitation = z.object({
  id: uuid(),
  organizationId: uuid(),
  email: z.string(),
  role: orgRole,
  status: invitationStatus,
  invitedBy: uuid(),
  expiresAt: isoDate,
  lastSentAt: isoDate,
  acceptedAt: isoDate.nullable(),
  createdAt: isoDate,
});

export const auditEntry = z.object({
  id: uuid(),
  action: z.string(),
  actorUserId: uuid().nullable(),
  actorApiKeyId: uuid().nullable().describe('The organization API key that acted (actorUserId is then null)'),
  impersonatorUserId: uuid()
    .nullable()
    .describe('The superadmin who acted as actorUserId in a support session (admin.impersonate), if one did'),
  impersonationId: uuid().nullable().describe('That support session'),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  at: isoDate,
});

export const taskStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);

export const task = z.object({
  id: uuid(),
  organizationId: uuid(),
  createdBy: uuid().nullable(),
  kind: z.string(),
  input: z.record(z.string(), z.unknown()),
  status: taskStatus,
  progress: z.number().min(0).max(1),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.string().nullable(),
  lastEventId: z.number().int(),
  createdAt: isoDate,
  startedAt: isoDate.nullable(),
  finishedAt: isoDate.nullable(),
});
