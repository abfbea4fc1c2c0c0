// The one place the member-management matrix is written (DESIGN §4).
import { badRequest, forbidden } from '@woopdi/core';
import type { OrgRole } from '@woopdi/db';
import type { Membership } from '../middleware/membership.js';

export interface MemberTarget {
  userId: string;
  role: OrgRole;
  isOwner: boolean;
}

export type MemberOperation = { kind: 'updateRole'; role: OrgRole } | { kind: 'remove' };

/**
 * MODERATORs may promote a MEMBER to MODERATOR and remove MEMBERs; ADMINs may do anything to anyone
 * but the owner; nobody changes their own role or removes themself (they leave); the owner is never
 * demoted or removed (ownership moves by transfer).
 */
export function assertCanManage(actor: Membership, target: MemberTarget, op: MemberOperation): void {
  if (actor.userId === target.userId) {
    throw op.kind === 'updateRole'
      ? badRequest('You cannot change your own role. Ask another ADMIN.')
      : badRequest(
          'You cannot remove yourself: leave the organization with POST /organizations/{organizationId}/leave.',
        );
  }
  if (target.isOwner) {
    throw forbidden(
      'The owner cannot be demoted or removed. The owner can transfer ownership to another ADMIN first.',
    );
  }
  if (actor.role === 'ADMIN') return;
  if (actor.role === 'MODERATOR') {
    if (target.role !== 'MEMBER') throw forbidden('Moderators can only manage members with the MEMBER role.');
    if (op.kind === 'updateRole' && op.role !== 'MODERATOR') {
      throw forbidden('Moderators can only promote a MEMBER to MODERATOR.');
    }
    return;
  }
  throw forbidden('Managing members needs the MODERATOR or ADMIN role.');
}

/** Who may invite with which role: an ADMIN any role, a MODERATOR only MEMBERs. */
export function assertCanInvite(actor: Membership, role: OrgRole): void {
  if (actor.role === 'ADMIN') return;
  if (actor.role === 'MODERATOR' && role === 'MEMBER') return;
  throw forbidden(
    actor.role === 'MODERATOR'
      ? 'Moderators can only invite people as MEMBER.'
      : 'Inviting needs the MODERATOR or ADMIN role.',
  );
}
