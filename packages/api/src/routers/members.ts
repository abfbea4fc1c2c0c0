import { uuid } from '@woopdi/core';
import { z } from 'zod';
import { cursor, limit, member, orgRole } from '../schemas.js';
import * as members from '../services/members.js';
import { orgProcedure, router } from '../trpc.js';

const tags = ['members'];

export const membersRouter = router({
  list: orgProcedure('MODERATOR')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organization-users/{organizationId}',
        tags,
        summary: 'Members of an organization',
        description:
          'MODERATOR or ADMIN. Oldest first; pass `nextCursor` back as `cursor` for the next page.',
      },
    })
    .input(z.object({ organizationId: uuid(), limit, cursor }))
    .output(z.object({ members: z.array(member), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) => members.listMembers(ctx, ctx.membership, input)),

  updateRole: orgProcedure('MODERATOR')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/organization-users/{organizationId}/{userId}',
        tags,
        summary: "Change a member's role",
        description:
          'MODERATORs may promote a MEMBER to MODERATOR; ADMINs may set any role on anyone but the owner. Nobody changes their own role (400); the owner is never demoted (403).',
      },
    })
    .input(z.object({ organizationId: uuid(), userId: uuid(), role: orgRole }))
    .output(member)
    .mutation(({ ctx, input }) => members.updateMemberRole(ctx, ctx.membership, input.userId, input.role)),

  remove: orgProcedure('MODERATOR')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/organization-users/{organizationId}/{userId}',
        tags,
        summary: 'Remove a member',
        description:
          'MODERATORs may remove MEMBERs; ADMINs anyone but the owner. The removed user loses access at once and is told through users.events.',
      },
    })
    .input(z.object({ organizationId: uuid(), userId: uuid() }))
    .output(z.object({ removed: z.literal(true) }))
    .mutation(({ ctx, input }) => members.removeMember(ctx, ctx.membership, input.userId)),
});
