import { uuid } from '@woopdi/core';
import { z } from 'zod';
import { auditEntry, cursor, limit, organization, orgName, orgRole } from '../schemas.js';
import { listAuditLog } from '../services/audit.js';
import * as lifecycle from '../services/organization-lifecycle.js';
import * as orgs from '../services/organizations.js';
import { authedProcedure, orgProcedure, router } from '../trpc.js';
import { secretsRouter } from './secrets.js';

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
    .output(organization.extend({ role: orgRole, isOwner: z.boolean() }))
    .query(({ ctx }) => orgs.getOrganization(ctx, ctx.membership)),

  update: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/organizations/{organizationId}',
        tags,
        errorResponses: {
          403: 'Not an ADMIN; a personal organization cannot be renamed; requiring two-factor needs it on your own account (and a person, not an API key).',
        },
        summary: 'Rename an organization, or require two-factor of its members',
        description:
          'Organization ADMINs only. Send `name`, `requireTwoFactor`, or both. Personal (solo) organizations cannot be renamed. With `requireTwoFactor: true`, members without two-factor get 403 on this organization (telling them how to turn it on) until they do; only an ADMIN who has two-factor on may turn it on, and only a signed-in person may change it. API keys are not affected: they are not people.',
      },
    })
    .input(
      z
        .object({
          organizationId: uuid(),
          name: orgName.optional(),
          requireTwoFactor: z.boolean().optional(),
        })
        .refine((i) => i.name !== undefined || i.requireTwoFactor !== undefined, {
          message: 'Send `name`, `requireTwoFactor`, or both',
        }),
    )
    .output(organization)
    .mutation(({ ctx, input }) =>
      orgs.updateOrganization(ctx, ctx.membership, {
        name: input.name,
        requireTwoFactor: input.requireTwoFactor,
        viaApiKey: ctx.session.apiKey !== undefined,
      }),
    ),

  delete: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/organizations/{organizationId}',
        tags,
        summary: 'Delete a team organization',
        description:
          'Owner only; personal organizations cannot be deleted. Members lose access at once and pending invitations are revoked; the records stay for the audit trail.',
      },
    })
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(({ ctx }) => lifecycle.deleteOrganization(ctx, ctx.membership)),

  transferOwnership: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/transfer-ownership',
        tags,
        summary: 'Hand ownership to another ADMIN member',
        description:
          'Owner only. The new owner must already be an ADMIN member; the old owner stays an ADMIN.',
      },
    })
    .input(z.object({ organizationId: uuid(), userId: uuid() }))
    .output(organization)
    .mutation(({ ctx, input }) => lifecycle.transferOwnership(ctx, ctx.membership, input.userId)),

  leave: orgProcedure('MEMBER', { userOnly: true })
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/leave',
        tags,
        summary: 'Leave an organization',
        description:
          'Any member but the owner (who transfers ownership first). Not for personal organizations.',
      },
    })
    .output(z.object({ left: z.literal(true) }))
    .mutation(({ ctx }) => lifecycle.leaveOrganization(ctx, ctx.membership)),

  auditLog: orgProcedure('ADMIN')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/audit-log',
        tags,
        summary: "The organization's audit log",
        description:
          'ADMIN only. Newest first; filter by `action`; pass `nextCursor` back as `cursor` for older entries.',
      },
    })
    .input(z.object({ organizationId: uuid(), limit, cursor, action: z.string().max(100).optional() }))
    .output(z.object({ entries: z.array(auditEntry), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) => listAuditLog(ctx.db, ctx.membership.organizationId, input)),

  /** organizations.secrets.set / list / delete (ADMIN). */
  secrets: secretsRouter,
});
