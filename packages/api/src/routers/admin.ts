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
import { router, systemProcedure } from '../trpc.js';

const tags = ['admin'];
const adminUser = user.extend({ disabled: z.boolean() });

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
