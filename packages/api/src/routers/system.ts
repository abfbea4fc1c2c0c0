import { z } from 'zod';
import { publicProcedure, router } from '../trpc.js';

export const systemRouter = router({
  settings: publicProcedure
    .meta({
      configOnly: true,
      openapi: {
        method: 'GET',
        path: '/system-settings',
        tags: ['system'],
        protect: false,
        summary: 'Public settings a client needs before sign-in',
      },
    })
    .input(z.void())
    .output(
      z.object({
        name: z.string(),
        emailVerificationRequired: z.boolean(),
        maxOwnedTeamOrganizations: z.number().int(),
        billing: z.object({ enabled: z.boolean() }),
        mail: z.object({ transport: z.enum(['outbox', 'sendgrid']) }),
      }),
    )
    .query(({ ctx }) => ({
      name: 'Woopdi',
      emailVerificationRequired: false,
      maxOwnedTeamOrganizations: ctx.config.maxOwnedTeamOrgs,
      billing: { enabled: ctx.config.stripe !== undefined },
      mail: { transport: ctx.config.sendgrid ? ('sendgrid' as const) : ('outbox' as const) },
    })),
});
