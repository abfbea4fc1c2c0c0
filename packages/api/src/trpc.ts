// The only place procedures are built: context type, error shape, and the gates.
import { initTRPC, TRPCError } from '@trpc/server';
import { type Feature, forbidden, notFound } from '@woopdi/core';
import type { OrgRole, SystemRole } from '@woopdi/db';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { ZodError, z } from 'zod';
import type { Context } from './context.js';
import { appErrorOf, toTRPCError } from './errors.js';
import { authenticate } from './middleware/auth.js';
import { findMembership, hasOrgRole, type Membership, requireMembership } from './middleware/membership.js';
import { assertEntitlement } from './services/entitlements.js';

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta<WoopdiMeta>>()
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

/** "email: Enter a valid email…; password: Use at least 8 characters" */
function describeIssues(error: ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * Maps core's AppErrors to tRPC errors (so services never import tRPC), and gives input validation
 * errors a message naming each field instead of the raw issue JSON.
 */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const { error } = result;
    const appError = appErrorOf(error.cause ?? error);
    if (appError && error.code === 'INTERNAL_SERVER_ERROR') throw toTRPCError(appError);
    if (error.code === 'BAD_REQUEST' && error.cause instanceof ZodError) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: describeIssues(error.cause), cause: error.cause });
    }
  }
  return result;
});

/**
 * Who may call a procedure. Every gate stamps it into the procedure's meta, so tests can read the
 * whole router's access rules (the tenant-isolation matrix enumerates every `org` procedure).
 */
export type Access =
  | { scope: 'public' }
  | { scope: 'authed' }
  | { scope: 'system'; minRole: Exclude<SystemRole, 'user'> }
  | { scope: 'org'; minRole: OrgRole; via: 'organizationId' | string };

// A type alias, not an interface: OpenApiMeta needs an index-signature-compatible object type.
export type WoopdiMeta = {
  access?: Access;
};

export const publicProcedure = t.procedure.use(mapErrors).meta({ access: { scope: 'public' } });

export const authedProcedure = t.procedure
  .use(mapErrors)
  .meta({ access: { scope: 'authed' } })
  .use(async ({ ctx, next }) => {
    const session = await authenticate(ctx);
    if (ctx.logFields) ctx.logFields.userId = session.userId;
    return next({ ctx: { ...ctx, session } });
  });

/** Public, but knows the caller when a valid access token is sent (and refuses an invalid one). */
export const optionalAuthProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const session = ctx.accessToken ? await authenticate(ctx) : null;
  return next({ ctx: { ...ctx, session } });
});

const systemRank: Record<SystemRole, number> = { user: 0, admin: 1, superadmin: 2 };

/** System area: admin or superadmin (`minRole`), regardless of organization membership. */
export const systemProcedure = (minRole: Exclude<SystemRole, 'user'>) =>
  authedProcedure.meta({ access: { scope: 'system', minRole } }).use(({ ctx, next }) => {
    if (systemRank[ctx.session.systemRole] < systemRank[minRole]) {
      throw toTRPCError(forbidden(`This needs the ${minRole} system role.`));
    }
    return next();
  });

/** Organization scope: reads `organizationId` from the input and requires a membership of `minRole`+. */
export const orgProcedure = (minRole: OrgRole) =>
  authedProcedure
    .meta({ access: { scope: 'org', minRole, via: 'organizationId' } })
    .input(z.object({ organizationId: z.uuid() }))
    .use(async ({ ctx, input, next }) => {
      const membership = await requireMembership(ctx, ctx.session.userId, input.organizationId, minRole);
      if (ctx.logFields) ctx.logFields.organizationId = membership.organizationId;
      return next({ ctx: { ...ctx, membership } });
    });

/**
 * Organization scope reached through a resource id (an invitation, a task, an asset): the resource
 * is looked up within the caller's organizations, so another organization's id is NOT_FOUND, never
 * a hint that it exists. `resolve` returns the resource's organization id.
 */
export const orgResourceProcedure = <K extends string>(
  key: K,
  what: string,
  minRole: OrgRole,
  resolve: (ctx: Context, id: string) => Promise<string | undefined>,
) =>
  authedProcedure
    .meta({ access: { scope: 'org', minRole, via: key } })
    .input(z.object({ [key]: z.uuid() }) as z.ZodObject<{ [P in K]: z.ZodUUID }>)
    .use(async ({ ctx, input, next }) => {
      const id = (input as Record<K, string>)[key];
      const organizationId = await resolve(ctx, id);
      const membership = organizationId
        ? await findMembership(ctx, ctx.session.userId, organizationId)
        : undefined;
      if (!organizationId || !membership) throw toTRPCError(notFound(what));
      if (!hasOrgRole(membership.role, minRole)) {
        throw toTRPCError(
          forbidden(`This needs the ${minRole} role in the organization; yours is ${membership.role}.`),
        );
      }
      if (ctx.logFields) ctx.logFields.organizationId = organizationId;
      return next({ ctx: { ...ctx, membership } });
    });

/**
 * Refuses (412, naming the upgrade path) unless the organization's plan, in good standing, includes
 * `feature`. Goes after an organization gate: `orgProcedure('MEMBER').use(requireEntitlement('ai_generation'))`.
 */
export const requireEntitlement = (feature: Feature) =>
  t.middleware(async ({ ctx, next }) => {
    const { membership } = ctx as Context & { membership?: Membership };
    if (!membership) throw new Error(`requireEntitlement('${feature}') must follow an organization gate`);
    await assertEntitlement(ctx, membership.organizationId, feature);
    return next();
  });

export { TRPCError };

/** Errors thrown while a subscription streams bypass middleware: map core's AppErrors here. */
export async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* stream;
  } catch (error) {
    const appError = appErrorOf(error);
    throw appError ? toTRPCError(appError) : error;
  }
}
