import { forbidden } from '@woopdi/core';
import { memberships, type OrgRole, organizations } from '@woopdi/db';
import { and, eq, isNull } from 'drizzle-orm';
import type { Context } from '../context.js';

export const orgRoleRank: Record<OrgRole, number> = { MEMBER: 1, MODERATOR: 2, ADMIN: 3 };

export const hasOrgRole = (role: OrgRole, min: OrgRole) => orgRoleRank[role] >= orgRoleRank[min];

export interface Membership {
  membershipId: string;
  organizationId: string;
  userId: string;
  role: OrgRole;
  isOwner: boolean;
  isSolo: boolean;
}

/** The caller's membership in a live organization, or FORBIDDEN. Never says whether the org exists. */
export async function requireMembership(
  ctx: Context,
  userId: string,
  organizationId: string,
  min: OrgRole,
): Promise<Membership> {
  const [row] = await ctx.db
    .select({
      membershipId: memberships.id,
      role: memberships.role,
      ownerUserId: organizations.ownerUserId,
      isSolo: organizations.isSolo,
    })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(
      and(
        eq(memberships.organizationId, organizationId),
        eq(memberships.userId, userId),
        isNull(organizations.deletedAt),
      ),
    )
    .limit(1);
  if (!row) throw forbidden('You are not a member of this organization.');
  if (!hasOrgRole(row.role, min)) {
    throw forbidden(`This needs the ${min} role in the organization; yours is ${row.role}.`);
  }
  return {
    membershipId: row.membershipId,
    organizationId,
    userId,
    role: row.role,
    isOwner: row.ownerUserId === userId,
    isSolo: row.isSolo,
  };
}
