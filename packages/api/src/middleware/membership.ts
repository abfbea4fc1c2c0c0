import { forbidden } from '@woopdi/core';
import { type Db, memberships, type OrgRole, organizations, userTwoFactor } from '@woopdi/db';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { membershipKey } from '../auth-cache.js';
import type { Context, Session } from '../context.js';
import { prepared } from '../prepared.js';

export const orgRoleRank: Record<OrgRole, number> = { MEMBER: 1, MODERATOR: 2, ADMIN: 3 };

export const hasOrgRole = (role: OrgRole, min: OrgRole) => orgRoleRank[role] >= orgRoleRank[min];

export interface Membership {
  membershipId: string;
  organizationId: string;
  userId: string;
  role: OrgRole;
  isOwner: boolean;
  isSolo: boolean;
  /**
   * The organization requires two-factor and this user has not turned it on: the gates refuse
   * (assertTwoFactorPolicy). Never set for an API key (keys are not people).
   */
  lacksRequiredTwoFactor?: true;
}

export const TWO_FACTOR_REQUIRED =
  'This organization requires two-factor sign-in, and yours is off. Turn it on under Account → Two-factor (POST /api/auth/2fa/enroll, then POST /api/auth/2fa/confirm with a code from your authenticator app), then try again.';

/** 403 when the organization requires two-factor and the member has not turned it on. */
export function assertTwoFactorPolicy(membership: Membership): void {
  if (membership.lacksRequiredTwoFactor) throw forbidden(TWO_FACTOR_REQUIRED);
}

/** A user's membership in a live (not deleted) organization. */
export async function findMembership(
  ctx: Pick<Context, 'db' | 'authCache'>,
  userId: string,
  organizationId: string,
): Promise<Membership | undefined> {
  const key = membershipKey(userId, organizationId);
  const cache = ctx.authCache?.memberships;
  const cached = cache?.get(key);
  if (cache && cached !== undefined) {
    cache.refreshAhead(key, async () => (await loadMembership(ctx, userId, organizationId)) ?? false);
    return cached || undefined;
  }
  const epoch = ctx.authCache?.epoch;
  const membership = await loadMembership(ctx, userId, organizationId);
  if (ctx.authCache?.fresh(epoch)) cache?.set(key, membership ?? false);
  return membership;
}

const liveMembership = (db: Db) =>
  db
    .select({
      membershipId: memberships.id,
      role: memberships.role,
      ownerUserId: organizations.ownerUserId,
      isSolo: organizations.isSolo,
      requireTwoFactor: organizations.requireTwoFactor,
      twoFactorEnabledAt: userTwoFactor.enabledAt,
    })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .leftJoin(userTwoFactor, eq(userTwoFactor.userId, memberships.userId))
    .where(
      and(
        eq(memberships.organizationId, sql.placeholder('organizationId')),
        eq(memberships.userId, sql.placeholder('userId')),
        isNull(organizations.deletedAt),
      ),
    )
    .limit(1)
    .prepare('live_membership');

async function loadMembership(
  ctx: Pick<Context, 'db'>,
  userId: string,
  organizationId: string,
): Promise<Membership | undefined> {
  const [row] = await prepared(ctx.db, 'live_membership', liveMembership).execute({ organizationId, userId });
  if (!row) return undefined;
  return {
    membershipId: row.membershipId,
    organizationId,
    userId,
    role: row.role,
    isOwner: row.ownerUserId === userId,
    isSolo: row.isSolo,
    ...(row.requireTwoFactor && !row.twoFactorEnabledAt && { lacksRequiredTwoFactor: true as const }),
  };
}

/** The caller's membership of at least `min`, or FORBIDDEN. Never says whether the org exists. */
export async function requireMembership(
  ctx: Pick<Context, 'db' | 'authCache'>,
  userId: string,
  organizationId: string,
  min: OrgRole,
): Promise<Membership> {
  const membership = await findMembership(ctx, userId, organizationId);
  if (!membership) throw forbidden('You are not a member of this organization.');
  assertTwoFactorPolicy(membership);
  if (!hasOrgRole(membership.role, min)) {
    throw forbidden(`This needs the ${min} role in the organization; yours is ${membership.role}.`);
  }
  return membership;
}

/** What an API key (or its absence) may do in `organizationId`: its own organization only. */
export function apiKeyMembership(session: Session, organizationId: string): Membership | undefined {
  const key = session.apiKey;
  if (!key || key.organizationId !== organizationId) return undefined;
  return {
    membershipId: `apikey:${key.id}`,
    organizationId,
    userId: session.userId,
    role: key.role,
    isOwner: false,
    isSolo: key.isSolo,
  };
}

/** The caller's membership: an API key's in its organization, else the user's own (cached). */
export const membershipOf = (
  ctx: Pick<Context, 'db' | 'authCache'>,
  session: Session,
  organizationId: string,
): Promise<Membership | undefined> | Membership | undefined =>
  session.apiKey
    ? apiKeyMembership(session, organizationId)
    : findMembership(ctx, session.userId, organizationId);

/** requireMembership for any caller, a user or an API key (which answers as a non-member elsewhere). */
export async function requireMembershipOf(
  ctx: Pick<Context, 'db' | 'authCache'>,
  session: Session,
  organizationId: string,
  min: OrgRole,
): Promise<Membership> {
  if (!session.apiKey) return requireMembership(ctx, session.userId, organizationId, min);
  const membership = apiKeyMembership(session, organizationId);
  if (!membership) throw forbidden('You are not a member of this organization.');
  if (!hasOrgRole(membership.role, min)) {
    throw forbidden(`This needs the ${min} role in the organization; this API key's is ${membership.role}.`);
  }
  return membership;
}
