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
        summary: 'Rename an organization',
        description: 'Organization ADMINs only. Personal (solo) organizations cannot be renamed.',
      },
    })
    .input(z.object({ organizationId: uuid(), name: orgName }))
    .output(organization)
    .mutation(({ ctx, input }) => orgs.renameOrganization(ctx, ctx.membership, input.name)),

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
