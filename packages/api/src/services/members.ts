import { emitWebhookEvent, notFound, publishUserEvent, userChannel, userEvent } from '@woopdi/core';
import { type DbOrTx, memberships, type OrgRole, organizations, users, userTwoFactor } from '@woopdi/db';
import { and, asc, eq, inArray, isNotNull, ne } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { assertCanManage } from './member-rules.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';

const memberColumns = {
  membershipId: memberships.id,
  userId: users.id,
  email: users.email,
  name: users.name,
  role: memberships.role,
  ownerUserId: organizations.ownerUserId,
  joinedAt: memberships.createdAt,
  twoFactorUserId: userTwoFactor.userId,
};

type MemberRow = Awaited<ReturnType<ReturnType<typeof selectMembers>['execute']>>[number];

const publicMember = (r: MemberRow) => ({
  userId: r.userId,
  email: r.email,
  name: r.name,
  role: r.role,
  isOwner: r.ownerUserId === r.userId,
  twoFactorEnabled: r.twoFactorUserId !== null,
  joinedAt: r.joinedAt.toISOString(),
});

function selectMembers(db: DbOrTx) {
  return db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .leftJoin(
      userTwoFactor,
      and(eq(userTwoFactor.userId, memberships.userId), isNotNull(userTwoFactor.enabledAt)),
    );
}

export async function listMembers(
  deps: ServiceDeps,
  actor: Membership,
  input: { limit: number; cursor?: string },
) {
  const after = decodeCursor(input.cursor);
  const rows = await selectMembers(deps.db)
    .where(
      and(
        eq(memberships.organizationId, actor.organizationId),
        keysetAfter(memberships.createdAt, memberships.id, after, 'asc'),
      ),
    )
    .orderBy(asc(memberships.createdAt), asc(memberships.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (r) => ({ at: r.joinedAt, id: r.membershipId }));
  return { members: items.map(publicMember), nextCursor };
}

/** The target's membership, locked for the rest of the transaction. */
async function lockTarget(tx: DbOrTx, organizationId: string, userId: string) {
  const [row] = await selectMembers(tx)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)))
    .for('update', { of: memberships });
  if (!row) throw notFound('Member');
  return row;
}

export async function updateMemberRole(deps: ServiceDeps, actor: Membership, userId: string, role: OrgRole) {
  const { before, after } = await deps.db.transaction(async (tx) => {
    const target = await lockTarget(tx, actor.organizationId, userId);
    assertCanManage(
      actor,
      { userId, role: target.role, isOwner: target.ownerUserId === userId },
      {
        kind: 'updateRole',
        role,
      },
    );
    if (target.role === role) return { before: target, after: target };
    await tx.update(memberships).set({ role }).where(eq(memberships.id, target.membershipId));
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'member.role_changed',
      target: { type: 'user', id: userId },
      metadata: { from: target.role, to: role },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'member.role_changed', {
      userId,
      role,
      previousRole: target.role,
    });
    return { before: target, after: { ...target, role } };
  });
  if (before.role !== after.role) {
    await publishUserEvent(deps.bus, userId, {
      type: 'membership.roleChanged',
      organizationId: actor.organizationId,
      role: after.role,
      previousRole: before.role,
    });
    await publishMembersChanged(deps, actor.organizationId, userId, 'roleChanged');
  }
  return publicMember(after);
}

export async function removeMember(deps: ServiceDeps, actor: Membership, userId: string) {
  await deps.db.transaction(async (tx) => {
    const target = await lockTarget(tx, actor.organizationId, userId);
    assertCanManage(
      actor,
      { userId, role: target.role, isOwner: target.ownerUserId === userId },
      { kind: 'remove' },
    );
    await deleteMembership(tx, actor.organizationId, userId);
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'member.removed',
      target: { type: 'user', id: userId },
      metadata: { role: target.role, email: target.email },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'member.removed', { userId, reason: 'removed' });
  });
  await publishRemoved(deps, actor.organizationId, [userId]);
  await publishMembersChanged(deps, actor.organizationId, userId, 'removed');
  return { removed: true as const };
}

/** Deletes a membership and forgets the org as the user's active one. */
export async function deleteMembership(tx: DbOrTx, organizationId: string, userId: string) {
  await tx
    .delete(memberships)
    .where(and(eq(memberships.organizationId, organizationId), eq(memberships.userId, userId)));
  await tx
    .update(users)
    .set({ lastActiveOrganizationId: null })
    .where(and(eq(users.id, userId), eq(users.lastActiveOrganizationId, organizationId)));
}

/** Tells each user they lost access; their org-scoped live subscriptions end on this event. */
export async function publishRemoved(deps: ServiceDeps, organizationId: string, userIds: string[]) {
  await Promise.all(
    userIds.map((id) => publishUserEvent(deps.bus, id, { type: 'membership.removed', organizationId })),
  );
}

/**
 * members.changed to the organization's MODERATORs and ADMINs (who see its members list) other than
 * the member concerned, who hears their own membership event. After commit.
 */
export async function publishMembersChanged(
  deps: Pick<ServiceDeps, 'db' | 'bus'>,
  organizationId: string,
  userId: string,
  change: 'joined' | 'left' | 'removed' | 'roleChanged',
) {
  const managers = await deps.db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(
      and(
        eq(memberships.organizationId, organizationId),
        inArray(memberships.role, ['ADMIN', 'MODERATOR']),
        ne(memberships.userId, userId),
      ),
    );
  const event = userEvent({ type: 'members.changed', organizationId, userId, change });
  await Promise.all(managers.map((m) => deps.bus.publish(userChannel(m.userId), event)));
}
