// The only place procedures are built: context type, error shape, and the gates.
import { initTRPC, TRPCError } from '@trpc/server';
import { dependencyUnavailable, type Feature, forbidden, notFound, uuid } from '@woopdi/core';
import type { OrgRole, SystemRole } from '@woopdi/db';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { ZodError, z } from 'zod';
import type { Context, Session } from './context.js';
import { appErrorOf, toTRPCError } from './errors.js';
import { authenticate } from './middleware/auth.js';
import {
  assertSupportMay,
  logImpersonation,
  runAsSupport,
  type SupportCall,
} from './middleware/impersonation.js';
import {
  assertTwoFactorPolicy,
  hasOrgRole,
  type Membership,
  membershipOf,
  requireMembershipOf,
} from './middleware/membership.js';
import { actingApiKey } from './services/audit.js';
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

/** Core's AppErrors (services never import tRPC) as the tRPC errors that carry their codes. */
function asTRPCError(error: unknown): unknown {
  const appError =
    error instanceof TRPCError ? undefined : (appErrorOf(error) ?? dependencyUnavailable(error));
  return appError ? toTRPCError(appError) : error;
}

/**
 * The same for an error that reached tRPC's own catch below (it wraps it as INTERNAL_SERVER_ERROR),
 * and input validation errors with a message naming each field instead of the raw issue JSON.
 */
function mapResult<R extends { ok: boolean; error?: TRPCError }>(result: R): R {
  const error = result.ok ? undefined : result.error;
  if (!error) return result;
  const appError =
    error.code === 'INTERNAL_SERVER_ERROR'
      ? (appErrorOf(error.cause ?? error) ?? dependencyUnavailable(error.cause))
      : undefined;
  if (appError) throw toTRPCError(appError);
  if (error.code === 'BAD_REQUEST' && error.cause instanceof ZodError) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: describeIssues(error.cause), cause: error.cause });
  }
  return result;
}

/** Maps the errors of everything below it (see mapResult). */
const mapErrors = t.middleware(async ({ next }) => mapResult(await next()));

/**
 * One middleware for a gate and the error mapping around the call: each tRPC middleware level
 * copies the call options and the context (measured: most of the procedure layer's CPU on the hot
 * path, issue #11), so the gates run in a single pass and add only the keys they resolve.
 */
const gate = <Extra extends object>(
  check: (ctx: Context, rawInput: () => Promise<unknown>) => Promise<Extra>,
) =>
  t.middleware(async ({ ctx, getRawInput, next, type, path, meta }) => {
    let extra: Extra;
    let support: SupportCall | undefined;
    try {
      extra = await check(ctx, getRawInput);
      // --- support impersonation: read-only unless allowed (services/impersonation.ts).
      const session = (extra as { session?: Session }).session;
      if (session?.impersonation) {
        support = supportCall(type, path, meta, (extra as { membership?: Membership }).membership);
        assertSupportMay(session, support);
      }
    } catch (error) {
      throw asTRPCError(error);
    }
    const session = (extra as { session?: Session }).session;
    const call = () => next({ ctx: extra });
    if (support && session) {
      let result: Awaited<ReturnType<typeof call>>;
      try {
        result = await runAsSupport(ctx, session, support, call, (r) => r.ok);
      } catch (error) {
        throw asTRPCError(error);
      }
      return mapResult(result);
    }
    // ---
    const key = session?.apiKey;
    // Through an API key, whatever the procedure audits names the key (services/audit.ts).
    return mapResult(await (key ? actingApiKey.run(key, call) : call()));
  });

/** What the support-session rules need to know about a call. */
const supportCall = (
  type: SupportCall['type'],
  path: string,
  meta: WoopdiMeta | undefined,
  membership: Membership | undefined,
): SupportCall => ({
  type,
  path,
  organizationId: membership?.organizationId,
  readOnlySafe: meta?.support === 'readOnlySafe',
  notUnderImpersonation: meta?.support === 'never',
});

/**
 * The organization gates run before the input parser (so its errors are mapped too): they read
 * the id from the raw input, and leave an invalid one to the parser's 400 (after the 401 check).
 */
const anyId = uuid();
const idIn = (key: string, raw: unknown): string | undefined => {
  const value = (raw as Record<string, unknown> | null | undefined)?.[key];
  return anyId.safeParse(value).success ? (value as string) : undefined;
};

async function signedIn(ctx: Context) {
  const session = await authenticate(ctx);
  if (ctx.logFields && !session.apiKey) ctx.logFields.userId = session.userId;
  logImpersonation(ctx, session);
  return session;
}

export const API_KEY_USER_ONLY =
  'API keys act for an organization, not as a user: this procedure needs a signed-in user (send a user access token instead).';

/** A signed-in user, not an organization API key (users.*, auth.*, organizations.create, admin). */
async function signedInUser(ctx: Context) {
  const session = await signedIn(ctx);
  if (session.apiKey) throw forbidden(API_KEY_USER_ONLY);
  return session;
}

/**
 * Who may call a procedure. Every gate stamps it into the procedure's meta, so tests can read the
 * whole router's access rules (the tenant-isolation matrix enumerates every `org` procedure).
 */
export type Access =
  /** `session: 'optional'`: also acts on a valid access token when one is sent. */
  | { scope: 'public'; session?: 'optional' }
  | { scope: 'authed' }
  | { scope: 'system'; minRole: Exclude<SystemRole, 'user'> }
  /** userOnly: an organization API key is refused (403), e.g. leaving is a person's act. */
  | { scope: 'org'; minRole: OrgRole; via: 'organizationId' | string; userOnly?: true };

// A type alias, not an interface: OpenApiMeta needs an index-signature-compatible object type.
export type WoopdiMeta = {
  access?: Access;
  /**
   * Answered from configuration alone (no input, database, Redis or rate limit): it can only
   * succeed, so the OpenAPI document lists no 4xx or 503 for it.
   */
  configOnly?: true;
  /**
   * Support impersonation (admin.impersonate): `readOnlySafe`, a mutation a read-only session may
   * call (it only ends the session); `never`, a mutation no support session may call, even with
   * allowWrite (credentials that would outlive it). Every other mutation needs allowWrite.
   */
  support?: 'readOnlySafe' | 'never';
};

export const publicProcedure = t.procedure.use(mapErrors).meta({ access: { scope: 'public' } });

export const authedProcedure = t.procedure
  .meta({ access: { scope: 'authed' } })
  .use(gate(async (ctx) => ({ session: await signedInUser(ctx) })));

/** Public, but knows the caller when a valid access token is sent (and refuses an invalid one). */
export const optionalAuthProcedure = publicProcedure
  .meta({ access: { scope: 'public', session: 'optional' } })
  .use(async ({ ctx, next, type, path, meta }) => {
    const session = ctx.accessToken ? await signedIn(ctx) : null;
    if (session?.apiKey) throw toTRPCError(forbidden(API_KEY_USER_ONLY));
    if (!session?.impersonation) return next({ ctx: { session } });
    // A support session acts on the token like any gate: read-only unless allowed, and on the trail.
    const support = supportCall(type, path, meta, undefined);
    assertSupportMay(session, support);
    return runAsSupport(
      ctx,
      session,
      support,
      () => next({ ctx: { session } }),
      (r) => r.ok,
    );
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
export const orgProcedure = (minRole: OrgRole, options: { userOnly?: boolean } = {}) =>
  t.procedure
    .meta({
      access: { scope: 'org', minRole, via: 'organizationId', ...(options.userOnly && { userOnly: true }) },
    })
    .use(
      gate(async (ctx, rawInput) => {
        const session = options.userOnly ? await signedInUser(ctx) : await signedIn(ctx);
        const organizationId = idIn('organizationId', await rawInput());
        if (!organizationId) return { session, membership: undefined as unknown as Membership };
        const membership = await requireMembershipOf(ctx, session, organizationId, minRole);
        if (ctx.logFields) ctx.logFields.organizationId = membership.organizationId;
        return { session, membership };
      }),
    )
    .input(z.object({ organizationId: uuid() }));

/** A resource's organization id, or that with the lowest role that may see it (a task's kind). */
export type ResourceScope = string | { organizationId: string; minRole: OrgRole } | undefined;

/**
 * Organization scope reached through a resource id (an invitation, a task, an asset): the resource
 * is looked up within the caller's organizations, so another organization's id is NOT_FOUND, never
 * a hint that it exists. `resolve` returns the resource's organization id, and may add the role
 * the resource itself needs: below it, the resource is NOT_FOUND too (hidden, like another's).
 */
export const orgResourceProcedure = <K extends string>(
  key: K,
  what: string,
  minRole: OrgRole,
  resolve: (ctx: Context, id: string) => Promise<ResourceScope>,
) =>
  t.procedure
    .meta({ access: { scope: 'org', minRole, via: key } })
    .use(
      gate(async (ctx, rawInput) => {
        const session = await signedIn(ctx);
        const id = idIn(key, await rawInput());
        if (!id) return { session, membership: undefined as unknown as Membership };
        const scope = await resolve(ctx, id);
        const organizationId = typeof scope === 'string' ? scope : scope?.organizationId;
        const membership = organizationId ? await membershipOf(ctx, session, organizationId) : undefined;
        if (!organizationId || !membership) throw notFound(what);
        if (typeof scope === 'object' && !hasOrgRole(membership.role, scope.minRole)) throw notFound(what);
        assertTwoFactorPolicy(membership);
        if (!hasOrgRole(membership.role, minRole)) {
          throw forbidden(
            `This needs the ${minRole} role in the organization; ${session.apiKey ? "this API key's" : 'yours'} is ${membership.role}.`,
          );
        }
        if (ctx.logFields) ctx.logFields.organizationId = organizationId;
        return { session, membership };
      }),
    )
    .input(z.object({ [key]: uuid() }) as z.ZodObject<{ [P in K]: z.ZodGUID }>);

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
