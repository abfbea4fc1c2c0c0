import { uuid } from '@woopdi/core';
import { z } from 'zod';
import { isoDate } from '../schemas.js';
import * as apiKeys from '../services/api-keys.js';
import { orgProcedure, router } from '../trpc.js';

const tags = ['api-keys'];
const role = z.enum(['MEMBER', 'MODERATOR', 'ADMIN']);

const apiKey = z.object({
  id: uuid(),
  name: z.string(),
  prefix: z.string().describe('wpd_<keyId>: the public part of the key, as it shows in logs'),
  role,
  status: z.enum(['active', 'expired', 'revoked']),
  createdBy: z.object({ userId: uuid(), email: z.string().nullable() }),
  createdAt: isoDate,
  expiresAt: isoDate.nullable(),
  lastUsedAt: isoDate.nullable().describe('Updated at most once a minute'),
  revokedAt: isoDate.nullable(),
});

export const apiKeysRouter = router({
  create: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/api-keys',
        tags,
        summary: 'Create an organization API key (shown once)',
        description:
          'ADMIN only. Answers the key `wpd_<keyId>_<secret>` once; only a keyed hash is stored. Send it as `Authorization: Bearer wpd_…`: it acts for this organization only, with its role (at most yours), and is refused (403) by user-only procedures. 409 when the organization already has 100 live keys. Refused (403) in a support session, even with allowWrite: a key would outlive it.',
      },
      support: 'never',
    })
    .input(
      z.object({
        organizationId: uuid(),
        name: z.string().trim().min(1).max(100),
        role,
        expiresAt: isoDate.optional().describe('When the key stops working; none: it does not expire'),
      }),
    )
    .output(
      z.object({ apiKey, key: z.string().describe('The key itself: store it now, it is not shown again') }),
    )
    .mutation(({ ctx, input }) => apiKeys.createApiKey(ctx, ctx.membership, input)),

  list: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/api-keys',
        tags,
        summary: "The organization's API keys (never their secrets)",
        description: 'ADMIN only. Newest first, revoked and expired keys included (at most 500).',
      },
    })
    .output(z.object({ apiKeys: z.array(apiKey) }))
    .query(({ ctx }) => apiKeys.listApiKeys(ctx, ctx.membership)),

  revoke: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/organizations/{organizationId}/api-keys/{apiKeyId}',
        tags,
        summary: 'Revoke an API key',
        description:
          'ADMIN only. Every api instance answers 401 to the key within a second. Revoking a revoked key answers the same.',
      },
    })
    .input(z.object({ organizationId: uuid(), apiKeyId: uuid() }))
    .output(z.object({ revoked: z.literal(true) }))
    .mutation(({ ctx, input }) => apiKeys.revokeApiKey(ctx, ctx.membership, input.apiKeyId)),
});
