import { isApiKeyFamily, revokes, type UserEvent, userChannel } from '@woopdi/core';
import type { Session } from '../context.js';
import type { ServiceDeps } from './deps.js';

/**
 * The signed-in user's events, until the client leaves or this sign-in is revoked (its own
 * session.revoked is the last event). Resolves only once the bus subscription is live, so nothing
 * published after the client sees "started" can be missed.
 */
export async function openUserEvents(
  deps: ServiceDeps,
  session: Session,
  signal: AbortSignal | undefined,
): Promise<AsyncGenerator<UserEvent>> {
  const subscription = deps.bus.subscribe<UserEvent>(userChannel(session.userId), { signal });
  await subscription.ready;
  return (async function* () {
    try {
      for await (const event of subscription) {
        // An API key's revocation is published here for the key's own streams, not the user's.
        if (event.type === 'session.revoked' && isApiKeyFamily(event.familyId)) continue;
        yield event;
        if (revokes(event, session.familyId)) return;
      }
    } finally {
      subscription.close();
    }
  })();
}
