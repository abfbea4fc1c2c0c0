import { uuid } from '@woopdi/core';
import { z } from 'zod';
import {
  isoDate,
  me,
  membershipSummary,
  password,
  personName,
  queryBoolean,
  user as userSchema,
} from '../schemas.js';
import * as identities from '../services/identities.js';
import { impersonatedBy } from '../services/impersonation.js';
import { openUserEvents } from '../services/user-events.js';
import * as users from '../services/users.js';
import { authedProcedure, orgProcedure, router } from '../trpc.js';

const tags = ['users'];
/** The signed-in user as they see themselves: with whether two-factor is on. */
const user = userSchema.extend({ twoFactorEnabled: z.boolean() });
const meOutput = me.extend({ twoFactorEnabled: z.boolean() });

export const usersRouter = router({
  me: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/user/me',
        tags,
        summary: 'The signed-in user',
        description:
          '`impersonatedBy` names the superadmin when the request comes from a support session (admin.impersonate), else null.',
      },
    })
    .input(z.void())
    .output(meOutput)
    .query(async ({ ctx }) => ({
      ...(await users.me(ctx, ctx.session.userId)),
      impersonatedBy: impersonatedBy(ctx.session),
    })),

  updateMe: authedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/user/me',
        tags,
        summary: 'Update your name or password',
        description:
          'Changing the password needs `currentPassword` and signs out every other session; a support session may not change it (403).',
      },
    })
    .input(
      z.object({
        name: personName.nullable().optional(),
        currentPassword: z.string().max(256).optional(),
        newPassword: password.optional(),
      }),
    )
    .output(user)
    .mutation(({ ctx, input }) => users.updateMe(ctx, ctx.session, input)),

  memberships: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/user/memberships',
        tags,
        summary: 'Organizations you belong to',
        description: 'Team organizations by default; `includeSolo=true` adds your personal organization.',
      },
    })
    .input(z.object({ includeSolo: queryBoolean.default(false) }).default({ includeSolo: false }))
    .output(z.object({ memberships: z.array(membershipSummary) }))
    .query(({ ctx, input }) => users.listMemberships(ctx, ctx.session.userId, input.includeSolo)),

  setActiveOrganization: orgProcedure('MEMBER', { userOnly: true })
    .meta({
      openapi: {
        method: 'PUT',
        path: '/user/active-organization',
        tags,
        summary: 'Remember the organization you are working in',
        description:
          'Stored on the account, so every client and sign-in starts there (`lastActiveOrganizationId`).',
      },
    })
    .output(z.object({ lastActiveOrganizationId: uuid() }))
    .mutation(({ ctx }) =>
      users.setActiveOrganization(ctx, ctx.session.userId, ctx.membership.organizationId),
    ),

  identities: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/user/identities',
        tags,
        summary: 'Sign-in providers linked to your account',
        description:
          'Each linked Google, GitHub or OpenID Connect account, and whether the account has a password. Link another from the account page: POST /oauth/{provider}/start with your access token answers `{ url }` to send the browser to.',
      },
    })
    .input(z.void())
    .output(
      z.object({
        hasPassword: z
          .boolean()
          .describe('False for accounts made through a provider until a password is set'),
        identities: z.array(
          z.object({
            id: uuid(),
            provider: z.string(),
            email: z.string().nullable().describe('The email the provider reported at the last sign-in'),
            emailVerified: z.boolean(),
            createdAt: isoDate,
            lastUsedAt: isoDate,
          }),
        ),
      }),
    )
    .query(({ ctx }) => identities.listIdentities(ctx, ctx.session.userId)),

  unlinkIdentity: authedProcedure
    .meta({
      support: 'never',
      openapi: {
        method: 'DELETE',
        path: '/user/identities/{identityId}',
        errorResponses: {
          404: 'No linked sign-in of yours has this id.',
          409: 'It is the only way to sign in (no password, no other provider): set a password or link another provider first.',
        },
        tags,
        summary: 'Unlink a sign-in provider',
        description: 'The last way to sign in cannot be removed.',
      },
    })
    .input(z.object({ identityId: uuid() }))
    .output(z.object({ unlinked: z.literal(true) }))
    .mutation(({ ctx, input }) => identities.unlinkIdentity(ctx, ctx.session.userId, input.identityId)),

  /**
   * Live events for the signed-in user: membership.added / removed / roleChanged and
   * session.revoked. Over websocket (token in connection params) or SSE.
   */
  events: authedProcedure.subscription(({ ctx, signal }) => openUserEvents(ctx, ctx.session, signal)),
});
