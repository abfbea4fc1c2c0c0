import { secretNamePattern, uuid } from '@woopdi/core';
import { z } from 'zod';
import { isoDate } from '../schemas.js';
import * as secrets from '../services/secrets.js';
import { orgProcedure, router } from '../trpc.js';

const tags = ['organizations'];

const name = z
  .string()
  .regex(secretNamePattern, {
    message: 'Use upper-case letters, digits and _, starting with a letter (e.g. REPLICATE_API_TOKEN)',
  })
  .describe('e.g. REPLICATE_API_TOKEN');

const secret = z.object({
  name: z.string(),
  last4: z.string().describe('The last 4 characters (empty for values shorter than 12)'),
  createdAt: isoDate,
  updatedAt: isoDate,
});

/** Mounted as organizations.secrets. */
export const secretsRouter = router({
  set: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/organizations/{organizationId}/secrets/{name}',
        tags,
        summary: 'Store an organization secret (e.g. its own Replicate token)',
        description:
          "ADMIN only. Creates or replaces the secret. The value is encrypted at rest (AES-256-GCM under ENCRYPTION_KEY) and never returned: only its last 4 characters are shown. REPLICATE_API_TOKEN is used by generate_image tasks instead of the server's token.",
      },
    })
    .input(z.object({ organizationId: uuid(), name, value: z.string().trim().min(1).max(4096) }))
    .output(secret)
    .mutation(({ ctx, input }) => secrets.setSecret(ctx, ctx.membership, input.name, input.value)),

  list: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/secrets',
        tags,
        summary: "The organization's secrets: names and last 4 characters only",
        description: 'ADMIN only. Values are never returned.',
      },
    })
    .output(z.object({ secrets: z.array(secret) }))
    .query(({ ctx }) => secrets.listSecrets(ctx, ctx.membership)),

  delete: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/organizations/{organizationId}/secrets/{name}',
        tags,
        summary: 'Delete an organization secret',
        description: 'ADMIN only. 404 when the organization has no secret of that name.',
      },
    })
    .input(z.object({ organizationId: uuid(), name }))
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => secrets.deleteSecret(ctx, ctx.membership, input.name)),
});
