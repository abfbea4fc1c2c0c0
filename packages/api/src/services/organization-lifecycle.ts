// Ownership transfer, leaving and deleting: the moves that change who is in an organization.
import {
  badRequest,
  conflict,
  emitWebhookEvent,
  enqueueJob,
  forbidden,
  liveSubscriptionOf,
  notFound,
  publishOrganizationChanged,
} from '@woopdi/core';
import { type DbOrTx, invitations, memberships, organizations, users } from '@woopdi/db';
import { and, count, eq, isNull } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { deleteMembership, publishMembersChanged, publishRemoved } from './members.js';
import { publicOrganization } from './serialize.js';

/** The organization row, locked: concurrent ownership changes run one after the other. */
async function lockOrganization(tx: DbOrTx, organizationId: string) {
  const [org] = await tx
    .select()
    .from(organizations)
    .where(and(eq(organizations.id, organizationId), isNull(organizations.deletedAt)))
    .for('update');
  if (!org) throw notFound('Organization');
  return org;
}

export async function transferOwnership(deps: ServiceDeps, actor: Membership, newOwnerUserId: string) {
  if (actor.isSolo) throw forbidden('A personal (solo) organization cannot change owner.');
  const org = await deps.db.transaction(async (tx) => {
    const org = await lockOrganization(tx, actor.organizationId);
    // Checked under the lock: of two concurrent transfers, the second finds it no longer owns.
    if (org.ownerUserId !== actor.userId) throw forbidden('Only the owner can transfer ownership.');
    if (newOwnerUserId === actor.userId) throw badRequest('userId: you already own this organization.');
    const [target] = await tx
      .select({ role: memberships.role })
      .from(memberships)
      .where(and(eq(memberships.organizationId, org.id), eq(memberships.userId, newOwnerUserId)))
      // Locked like a role change locks it: a concurrent demotion either waits or is seen here.
      .for('update');
    if (!target) throw notFound('Member');
    if (target.role !== 'ADMIN') {
      throw badRequest('userId: ownership can only go to an ADMIN member. Promote them to ADMIN first.');
    }
    // The new owner's MAX_OWNED_TEAM_ORGS holds here too. Their user row is locked as
    // createTeamOrganization locks it, so a create or another transfer to them cannot race this check.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, newOwnerUserId)).for('update');
    const [owned] = await tx
      .select({ n: count() })
      .from(organizations)
      .where(
        and(
          eq(organizations.ownerUserId, newOwnerUserId),
          eq(organizations.isSolo, false),
          isNull(organizations.deletedAt),
        ),
      );
    if ((owned?.n ?? 0) >= deps.config.maxOwnedTeamOrgs) {
      throw conflict(
        'userId: this member already owns as many team organizations as allowed (MAX_OWNED_TEAM_ORGS). They must transfer or delete one first.',
      );
    }
    const [updated] = await tx
      .update(organizations)
      .set({ ownerUserId: newOwnerUserId })
      .where(eq(organizations.id, org.id))
      .returning();
    await audit(tx, {
      organizationId: org.id,
      actorUserId: actor.userId,
      action: 'organization.ownership_transferred',
      target: { type: 'user', id: newOwnerUserId },
      metadata: { from: actor.userId, to: newOwnerUserId },
    });
    await emitWebhookEvent(tx, org.id, 'organization.ownership_transferred', {
      previousOwnerUserId: actor.userId,
      ownerUserId: newOwnerUserId,
    });
    return updated!;
  });
  // Every instance's cached view of who owns the organization is now stale.
  await publishOrganizationChanged(deps.bus, org.id);
  return publicOrganization(org);
}

export async function leaveOrganization(deps: ServiceDeps, actor: Membership) {
  if (actor.isSolo) throw forbidden('You cannot leave your personal (solo) organization.');
  await deps.db.transaction(async (tx) => {
    const org = await lockOrganization(tx, actor.organizationId);
    if (org.ownerUserId === actor.userId) {
      throw forbidden(
        'The owner cannot leave. Transfer ownership to another ADMIN first, or delete the organization.',
      );
    }
    await deleteMembership(tx, actor.organizationId, actor.userId);
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'member.left',
      target: { type: 'user', id: actor.userId },
      metadata: { role: actor.role },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'member.removed', {
      userId: actor.userId,
      reason: 'left',
    });
  });
  await publishRemoved(deps, actor.organizationId, [actor.userId]);
  await publishMembersChanged(deps, actor.organizationId, actor.userId, 'left');
  return { left: true as const };
}

/**
 * Soft delete: members lose access at once (every gate ignores deleted organizations), pending
 * invitations are revoked, and the rows stay for the audit trail.
 */
export async function deleteOrganization(deps: ServiceDeps, actor: Membership) {
  if (actor.isSolo) throw forbidden('A personal (solo) organization cannot be deleted.');
  const memberIds = await deps.db.transaction(async (tx) => {
    const org = await lockOrganization(tx, actor.organizationId);
    if (org.ownerUserId !== actor.userId) throw forbidden('Only the owner can delete the organization.');
    await tx.update(organizations).set({ deletedAt: new Date() }).where(eq(organizations.id, org.id));
    await tx
      .update(invitations)
      .set({ status: 'revoked' })
      .where(and(eq(invitations.organizationId, org.id), eq(invitations.status, 'pending')));
    // Stripe is called by a job after commit: an outage there never blocks or undoes the delete.
    const subscriptionId = await liveSubscriptionOf(tx, org.id);
    if (subscriptionId)
      await enqueueJob(tx, 'stripe_cancel_subscription', { organizationId: org.id, subscriptionId });
    await audit(tx, {
      organizationId: org.id,
      actorUserId: actor.userId,
      action: 'organization.deleted',
      target: { type: 'organization', id: org.id },
      metadata: { name: org.name },
    });
    const rows = await tx
      .select({ userId: memberships.userId })
      .from(memberships)
      .where(eq(memberships.organizationId, org.id));
    return rows.map((r) => r.userId);
  });
  await publishRemoved(deps, actor.organizationId, memberIds);
  await publishOrganizationChanged(deps.bus, actor.organizationId);
  return { deleted: true as const };
}
