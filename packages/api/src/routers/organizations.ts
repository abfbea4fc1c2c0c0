import { z } from 'zod';
import { organization, orgName, orgRole } from '../schemas.js';
import * as orgs from '../services/organizations.js';
import { authedProcedure, orgProcedure, router } from '../trpc.js';

const tags = ['organizations'];

export const organizationsRouter = router({
  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/create-organization',
        tags,
        summary: 'Create a team organization',
        description:
          'You become its owner and ADMIN. A user may own at most MAX_OWNED_TEAM_ORGS team organizations (409 beyond).',
      },
    })
    .input(z.object({ name: orgName }))
    .output(organization)
    .mutation(({ ctx, input }) => orgs.createTeamOrganization(ctx, ctx.session.userId, input.name)),

  get: orgProcedure('MEMBER')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}',
        tags,
        summary: 'An organization you belong to',
      },
    })
    .input(z.object({ organizationId: z.uuid() }))
    .output(organization.extend({ role: orgRole, isOwner: z.boolean() }))
    .query(({ ctx }) => orgs.getOrganization(ctx, ctx.membership)),

  update: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/organizations/{organizationId}',
        tags,
        summary: 'Rename an organization',
        description: 'Organization ADMINs only. Personal (solo) organizations cannot be renamed.',
      },
    })
    .input(z.object({ organizationId: z.uuid(), name: orgName }))
    .output(organization)
    .mutation(({ ctx, input }) => orgs.renameOrganization(ctx, ctx.membership, input.name)),
});
