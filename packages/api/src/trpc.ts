// The only place procedures are built: context type, error shape, and the gates.
import { initTRPC, TRPCError } from '@trpc/server';
import { forbidden } from '@woopdi/core';
import type { OrgRole, SystemRole } from '@woopdi/db';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { ZodError, z } from 'zod';
import type { Context } from './context.js';
import { appErrorOf, toTRPCError } from './errors.js';
import { authenticate } from './middleware/auth.js';
import { requireMembership } from './middleware/membership.js';

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    // Stacks never leave the server, in any environment.
    isDev: false,
    errorFormatter({ shape, error }) {
      const fieldErrors =
        error.cause instanceof ZodError ? z.flattenError(error.cause).fieldErrors : undefined;
      const internal = error.code === 'INTERNAL_SERVER_ERROR';
      const retryAfterSeconds = appErrorOf(error)?.details?.retryAfterSeconds;
      return {
        ...shape,
        message: internal
          ? 'Something went wrong on our side. It has been logged; try again shortly.'
          : fieldErrors
            ? Object.entries(fieldErrors)
                .map(([field, msgs]) => `${field}: ${(msgs as string[]).join(', ')}`)
                .join('; ') || shape.message
            : shape.message,
        data: { ...shape.data, stack: undefined, fieldErrors, retryAfterSeconds },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

/** Maps core's AppErrors to tRPC errors, so services never import tRPC. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const appError = appErrorOf(result.error.cause ?? result.error);
    if (appError && result.error.code === 'INTERNAL_SERVER_ERROR') throw toTRPCError(appError);
  }
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors);

export const authedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const session = await authenticate(ctx);
  return next({ ctx: { ...ctx, session } });
});

const systemRank: Record<SystemRole, number> = { user: 0, admin: 1, superadmin: 2 };

/** System area: admin or superadmin (`minRole`), regardless of organization membership. */
export const systemProcedure = (minRole: Exclude<SystemRole, 'user'>) =>
  authedProcedure.use(({ ctx, next }) => {
    if (systemRank[ctx.session.systemRole] < systemRank[minRole]) {
      throw toTRPCError(forbidden(`This needs the ${minRole} system role.`));
    }
    return next();
  });

/** Organization scope: reads `organizationId` from the input and requires a membership of `minRole`+. */
export const orgProcedure = (minRole: OrgRole) =>
  authedProcedure.input(z.object({ organizationId: z.uuid() })).use(async ({ ctx, input, next }) => {
    const membership = await requireMembership(ctx, ctx.session.userId, input.organizationId, minRole);
    return next({ ctx: { ...ctx, membership } });
  });

export { TRPCError };
