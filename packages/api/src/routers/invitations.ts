import { uuid } from '@woopdi/core';
import { z } from 'zod';
import { email, invitation, orgRole, password, personName, token, tokens, user } from '../schemas.js';
import * as invitations from '../services/invitations.js';
import {
  optionalAuthProcedure,
  orgProcedure,
  orgResourceProcedure,
  publicProcedure,
  router,
} from '../trpc.js';

const tags = ['invitations'];
const byInvitation = (minRole: 'MODERATOR') =>
  orgResourceProcedure('invitationId', 'Invitation', minRole, (ctx, id) =>
    invitations.invitationOrganization(ctx, id),
  );

export const invitationsRouter = router({
  create: orgProcedure('MODERATOR')
    .meta({
      openapi: {
        method: 'POST',
        path: '/invitations',
        tags,
        summary: 'Invite someone by email',
        description:
          'MODERATORs invite MEMBERs; ADMINs any role. Not for personal organizations; 409 for existing members. Re-inviting a pending email rotates its link and extends it (no duplicates). The link is valid for 7 days.',
      },
    })
    .input(z.object({ organizationId: uuid(), email, role: orgRole.default('MEMBER') }))
    .output(invitation)
    .mutation(({ ctx, input }) => invitations.createInvitation(ctx, ctx.membership, input)),

  list: orgProcedure('MODERATOR')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/invitations',
        tags,
        summary: 'Pending and recent invitations',
      },
    })
    .output(z.object({ invitations: z.array(invitation) }))
    .query(({ ctx }) => invitations.listInvitations(ctx, ctx.membership)),

  revoke: byInvitation('MODERATOR')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/invitations/{invitationId}',
        tags,
        summary: 'Revoke a pending invitation',
      },
    })
    .input(z.object({ invitationId: uuid() }))
    .output(invitation)
    .mutation(({ ctx, input }) => invitations.revokeInvitation(ctx, ctx.membership, input.invitationId)),

  resend: byInvitation('MODERATOR')
    .meta({
      openapi: {
        method: 'POST',
        path: '/invitations/{invitationId}/resend',
        tags,
        summary: 'Send a pending invitation again',
        description:
          'Rotates the link (the old one stops working) and extends it by 7 days. At most once a minute (429).',
      },
    })
    .input(z.object({ invitationId: uuid() }))
    .output(invitation)
    .mutation(({ ctx, input }) => invitations.resendInvitation(ctx, ctx.membership, input.invitationId)),

  details: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/invitations/details',
        tags,
        protect: false,
        summary: 'What an invitation link is for',
        description:
          'Public, for the accept page. 404 for unknown, revoked or used links; 400 for an expired one. `accountExists` tells the page whether to ask the person to sign in or to choose a password.',
      },
    })
    .input(z.object({ token }))
    .output(
      z.object({
        organizationId: uuid(),
        organizationName: z.string(),
        inviterName: z.string(),
        email: z.string(),
        role: orgRole,
        accountExists: z.boolean(),
        expiresAt: z.string(),
      }),
    )
    .query(({ ctx, input }) => invitations.invitationDetails(ctx, input.token)),

  accept: optionalAuthProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/invitations/accept',
        tags,
        protect: false,
        summary: 'Accept an invitation',
        description:
          'A person without an account gives a password (and optionally a name): their account is created with the email verified, and tokens are returned. An existing user must be signed in as the invited email (401 if not signed in, 403 if signed in as someone else).',
      },
    })
    .input(z.object({ token, password: password.optional(), name: personName.optional() }))
    .output(
      z.object({
        organizationId: uuid(),
        role: orgRole,
        user,
        tokens: tokens.nullable(),
      }),
    )
    .mutation(({ ctx, input }) =>
      invitations.acceptInvitation(ctx, ctx.session, input, { ip: ctx.ip, userAgent: ctx.userAgent }),
    ),
});
