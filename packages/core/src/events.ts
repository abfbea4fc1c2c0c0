// Channel names and event shapes published on the bus: a contract between the services that
// publish, the subscriptions that stream, and clients.
import type { OrgRole } from '@woopdi/db';
import type { EventBus } from './bus.js';

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
  /**
   * To each MODERATOR and ADMIN of the organization (who see its members) when someone else joins,
   * leaves, is removed or changes role, so an open members list stays current.
   */
  | {
      type: 'members.changed';
      organizationId: string;
      userId: string;
      change: 'joined' | 'left' | 'removed' | 'roleChanged';
      at: string;
    }
  /** To each ADMIN of the organization when its subscription changes (webhook, seats, reconciliation). */
  | {
      type: 'billing.updated';
      organizationId: string;
      plan: string;
      status: string | null;
      seats: number;
      at: string;
    }
  /** familyId null: every session of the user, except `exceptFamilyId` when given. */
  | { type: 'session.revoked'; familyId: string | null; exceptFamilyId?: string; at: string };

type WithoutAt<T> = T extends unknown ? Omit<T, 'at'> : never;

export const userEvent = (event: WithoutAt<UserEvent>): UserEvent =>
  ({ ...event, at: new Date().toISOString() }) as UserEvent;

const API_KEY_FAMILY = 'apikey:';

/**
 * The session family of a request made with an organization API key. Its revocation is published on
 * the creator's user channel (so the key's open task streams end), naming this family.
 */
export const apiKeyFamilyId = (apiKeyId: string) => `${API_KEY_FAMILY}${apiKeyId}`;

export const isApiKeyFamily = (familyId: string | null | undefined) =>
  familyId?.startsWith(API_KEY_FAMILY) ?? false;

/** True when a session.revoked event ends the session family `familyId`. */
export function revokes(event: UserEvent, familyId: string): boolean {
  if (event.type !== 'session.revoked') return false;
  if (event.familyId !== null) return event.familyId === familyId;
  // "Every session of the user" means their sign-ins: the API keys they created act for the
  // organization and outlive them (revoked one by one, or with the organization).
  return !isApiKeyFamily(familyId) && event.exceptFamilyId !== familyId;
}

/**
 * Every api instance listens here to drop cached sessions and memberships the moment they change,
 * whichever instance made the change.
 */
export const INVALIDATIONS_CHANNEL = 'invalidations';

export type Invalidation =
  | { type: 'user'; userId: string }
  | { type: 'organization'; organizationId: string }
  /** An API key was revoked (or changed): every instance forgets it at once. */
  | { type: 'apiKey'; apiKeyId: string };

/** Publishes a user event and the cache invalidation it implies. */
export async function publishUserEvent(
  bus: EventBus,
  userId: string,
  event: WithoutAt<UserEvent>,
): Promise<void> {
  // The invalidation is sent first: a client that refetches on hearing the event must not be
  // answered from a cached copy the invalidation has not reached yet.
  await Promise.all([
    bus.publish(INVALIDATIONS_CHANNEL, { type: 'user', userId } satisfies Invalidation),
    bus.publish(userChannel(userId), userEvent(event)),
  ]);
}

/** For changes that touch every member's view of an organization (ownership, deletion). */
export const publishOrganizationChanged = (bus: EventBus, organizationId: string) =>
  bus.publish(INVALIDATIONS_CHANNEL, { type: 'organization', organizationId } satisfies Invalidation);

/** After an API key is revoked: every api instance stops accepting it (DESIGN §7, within a second). */
export const publishApiKeyChanged = (bus: EventBus, apiKeyId: string) =>
  bus.publish(INVALIDATIONS_CHANNEL, { type: 'apiKey', apiKeyId } satisfies Invalidation);
