// Channel names and event shapes published on the bus: a contract between the services that
// publish, the subscriptions that stream, and clients.
import type { OrgRole } from '@woopdi/db';

export const userChannel = (userId: string) => `user:${userId}`;
export const taskChannel = (taskId: string) => `task:${taskId}`;

export type UserEvent =
  | { type: 'membership.added'; organizationId: string; role: OrgRole; at: string }
  | { type: 'membership.removed'; organizationId: string; at: string }
  | {
      type: 'membership.roleChanged';
      organizationId: string;
      role: OrgRole;
      previousRole: OrgRole;
      at: string;
    }
  /** familyId null: every session of the user, except `exceptFamilyId` when given. */
  | { type: 'session.revoked'; familyId: string | null; exceptFamilyId?: string; at: string };

type WithoutAt<T> = T extends unknown ? Omit<T, 'at'> : never;

export const userEvent = (event: WithoutAt<UserEvent>): UserEvent =>
  ({ ...event, at: new Date().toISOString() }) as UserEvent;

/** True when a session.revoked event ends the session family `familyId`. */
export function revokes(event: UserEvent, familyId: string): boolean {
  if (event.type !== 'session.revoked') return false;
  if (event.familyId !== null) return event.familyId === familyId;
  return event.exceptFamilyId !== familyId;
}
