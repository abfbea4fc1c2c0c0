import { uuid } from '@woopdi/core';
import { z } from 'zod';
import {
  cursor,
  email,
  limit,
  organization,
  password,
  personName,
  queryBoolean,
  systemRole,
  user,
} from '../schemas.js';
import * as admin from '../services/admin.js';
import * as impersonation from '../services/impersonation.js';
import { authedProcedure, router, systemProcedure } from '../trpc.js';

const tags = ['admin'];
const adminUser = user.extend({ disabled: z.boolean() });
const supportSession = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string().describe('Acts as the user until accessTokenExpiresAt; there is no refresh token'),
  accessTokenExpiresAt: z.string(),
  impersonationId: uuid(),
  userId: uuid(),
  allowWrite: z.boolean(),
});

export const adminRouter = router({
  users: router({
    list: systemProcedure('admin')
      .meta({
        openapi: {
          method: 'GET',
          path: '/admin/users',
          tags,
          summary: 'All users',
          description:
            'System admins. Search by email; filter by system role, verified, disabled; cursor pagination.',
        },
      })
      .input(
        z.object({
          search: z.string().max(254).optional(),
          systemRole: systemRole.optional(),
          verified: queryBoolean.optional(),
          disabled: queryBoolean.optional(),
          limit,
          cursor,
        }),
      )
      .output(z.object({ users: z.array(adminUser), nextCursor: z.string().nullable() }))
      .query(({ ctx, input }) => admin.listUsers(ctx, input)),

    create: systemProcedure('superadmin')
      .meta({
        openapi: {
          method: 'POST',
          path: '/admin/users',
          errorResponses: { 409: 'An account with this email already exists.' },
          tags,
          summary: 'Create a system admin',
          description: 'Superadmins only. The account is verified and gets its personal organization.',
        },
      })
      .input(
        z.object({
          email,
          password,
          name: personName.optional(),
          systemRole: z.enum(['admin', 'superadmin']).default('admin'),
        }),
      )
      .output(user)
      .mutation(({ ctx, input }) => admin.createSystemUser(ctx, ctx.session.userId, input)),

    setSystemRole: systemProcedure('superadmin')
      .meta({
        openapi: {
          method: 'PUT',
          path: '/admin/users/{userId}/system-role',
          errorResponses: {
            404: 'No such user.',
            409: 'That would leave no superadmin.',
          },
          tags,
          summary: "Change a user's system role",
          description: 'Superadmins only. The last superadmin cannot be demoted (409).',
        },
      })
      .input(z.object({ userId: uuid(), systemRole }))
      .output(user)
      .mutation(({ ctx, input }) =>
        admin.setSystemRole(ctx, ctx.session.userId, input.userId, input.systemRole),
      ),

    disable: systemProcedure('superadmin')
      .meta({
        openapi: {
          method: 'POST',
          path: '/admin/users/{userId}/disable',
          errorResponses: {
            400: 'You cannot disable your own account.',
            404: 'No such user.',
            409: 'That would leave no active superadmin.',
          },
          tags,
          summary: 'Disable an account',
          description: 'Superadmins only. Every session of the user ends at once.',
        },
      })
      .input(z.object({ userId: uuid() }))
      .output(adminUser)
      .mutation(({ ctx, input }) => admin.setDisabled(ctx, ctx.session.userId, input.userId, true)),

    enable: systemProcedure('superadmin')
      .meta({
        openapi: {
          method: 'POST',
          path: '/admin/users/{userId}/enable',
          errorResponses: {
            400: 'You cannot enable your own account.',
            404: 'No such user.',
          },
          tags,
          summary: 'Enable a disabled account',
        },
      })
      .input(z.object({ userId: uuid() }))
      .output(adminUser)
      .mutation(({ ctx, input }) => admin.setDisabled(ctx, ctx.session.userId, input.userId, false)),
  }),

  impersonate: systemProcedure('superadmin')
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{userId}/impersonate',
        errorResponses: {
          400: 'You cannot impersonate yourself, or the input is out of bounds.',
          403: 'Not a superadmin, or the user is a system admin or superadmin.',
          404: 'No such user.',
          409: 'The account is disabled.',
        },
        tags,
        summary: 'Act as a user (support impersonation)',
        description:
          "Superadmins only, never through an API key, never as a system admin or superadmin, never as a disabled account. Answers an access token for the user carrying the superadmin as its RFC 8693 `act` claim, valid for `minutes` (at most 60) and not refreshable. Read-only unless `allowWrite`: every mutation then answers 403. Account credentials (password, API keys, sign-out) are never changed through it. Starting, the first request into each organization, every write, and the end are written to the audit log of the organizations touched and of the user's solo organization ('support access by <email>: <reason>'), and to the system record; the user is emailed.",
      },
    })
    .input(
      z.object({
        userId: uuid(),
        reason: z.string().trim().min(3).max(500).describe('Why: shown to the user and in the audit log'),
        minutes: z.number().int().min(1).max(impersonation.MAX_IMPERSONATION_MINUTES),
        allowWrite: z.boolean().default(false),
      }),
    )
    .output(supportSession)
    .mutation(({ ctx, input }) =>
      impersonation.startImpersonation(ctx, ctx.session, input, { ip: ctx.ip, userAgent: ctx.userAgent }),
    ),

  endImpersonation: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/impersonation/end',
        errorResponses: {
          400: 'A superadmin must name the session (impersonationId).',
          403: 'Neither the support session itself nor a superadmin.',
          404: 'No such support session.',
        },
        tags,
        summary: 'End a support impersonation',
        description:
          'Called with the support session’s own token (no input needed), or by any superadmin with its `impersonationId`. The token stops working at once on every instance. Ending one that already ended or expired answers the same.',
      },
      support: 'readOnlySafe',
    })
    .input(z.object({ impersonationId: uuid().optional() }).default({}))
    .output(z.object({ impersonationId: uuid(), endedAt: z.string() }))
    .mutation(({ ctx, input }) => impersonation.endImpersonation(ctx, ctx.session, input.impersonationId)),

  organizations: router({
    list: systemProcedure('admin')
      .meta({
        openapi: {
          method: 'GET',
          path: '/admin/organizations',
          tags,
          summary: 'All organizations',
          description: 'System admins. Filter by `isSolo`, search by name; cursor pagination.',
        },
      })
      .input(
        z.object({ isSolo: queryBoolean.optional(), search: z.string().max(120).optional(), limit, cursor }),
      )
      .output(z.object({ organizations: z.array(organization), nextCursor: z.string().nullable() }))
      .query(({ ctx, input }) => admin.listOrganizations(ctx, input)),
  }),
});
