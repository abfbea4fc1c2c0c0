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
        errorResponses: {
          409: 'The email is already a member of the organization.',
          412: "The organization's plan has no seat left (members and pending invitations count).",
          429: 'Too many invitations from this organization, or to this email (RATE_LIMIT_INVITATIONS, RATE_LIMIT_INVITATIONS_PER_RECIPIENT).',
        },
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
        errorResponses: {
          409: 'The invitation is no longer pending (already accepted, revoked or expired).',
        },
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
        errorResponses: {
          409: 'The invitation is no longer pending (already accepted, revoked or expired).',
          429: 'Resent less than a minute ago, or too many invitations to this email.',
        },
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
        errorResponses: {
          400: 'Invalid input, a new account without a password, or the link expired (the message says how to get a new one).',
          401: 'The invited email has an account: sign in as it first (or the access token sent is invalid).',
          403: 'Signed in as someone other than the invited email.',
          404: 'The link is unknown, was revoked, or was already used.',
          412: "The organization's plan has no seat left.",
        },
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
