// DESIGN §4's role rules, for deciding which controls to show. The API enforces them; these only keep
// the page from offering what it would refuse.
import type { RouterOutputs } from '@woopdi/sdk';

export type OrgRole = 'ADMIN' | 'MODERATOR' | 'MEMBER';
export const ROLES: OrgRole[] = ['ADMIN', 'MODERATOR', 'MEMBER'];
const rank: Record<OrgRole, number> = { ADMIN: 3, MODERATOR: 2, MEMBER: 1 };

export const atLeast = (role: OrgRole | undefined, min: OrgRole) =>
  role !== undefined && rank[role] >= rank[min];

export interface Actor {
  userId: string;
  role: OrgRole;
  isOwner: boolean;
  isSolo: boolean;
}
type Member = Pick<RouterOutputs['members']['list']['members'][number], 'userId' | 'role' | 'isOwner'>;

export const canSeeMembers = (actor: Actor) => atLeast(actor.role, 'MODERATOR');

/** The roles `actor` may give `target` (empty: no role control). */
export function assignableRoles(actor: Actor, target: Member): OrgRole[] {
  if (target.userId === actor.userId || target.isOwner) return [];
  if (actor.role === 'ADMIN') return ROLES;
  if (actor.role === 'MODERATOR' && target.role === 'MEMBER') return ['MODERATOR', 'MEMBER'];
  return [];
}

export function canRemove(actor: Actor, target: Member): boolean {
  if (target.userId === actor.userId || target.isOwner) return false;
  return actor.role === 'ADMIN' || (actor.role === 'MODERATOR' && target.role === 'MEMBER');
}

/** MODERATORs invite MEMBERs; ADMINs any role. Never into a personal organization. */
export function invitableRoles(actor: Actor): OrgRole[] {
  if (actor.isSolo) return [];
  if (actor.role === 'ADMIN') return ROLES;
  if (actor.role === 'MODERATOR') return ['MEMBER'];
  return [];
}

export const canRename = (actor: Actor) => !actor.isSolo && actor.role === 'ADMIN';
export const canDelete = (actor: Actor) => !actor.isSolo && actor.isOwner;
export const canTransfer = canDelete;
export const canLeave = (actor: Actor) => !actor.isSolo && !actor.isOwner;
export const canSeeAudit = (actor: Actor) => actor.role === 'ADMIN';
export const canSeeBilling = (actor: Actor) => actor.role === 'ADMIN';
/** org_export holds members' emails and roles: MODERATOR or ADMIN (the kind's minRole). */
export const canExport = (actor: Actor) => atLeast(actor.role, 'MODERATOR');
