// The link that keeps calls signed in: refreshes an expired access token before a call, and when the
// server answers UNAUTHORIZED, refreshes once (shared with every other failing call) and retries once.
import type { Operation, TRPCLink } from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import { isUnauthorized, type Session } from './session.js';
import type { AppRouter } from './types.js';

/** Procedures that hand out tokens: never refreshed ahead of, nor retried. */
const TOKEN_ISSUERS = new Set([
  'auth.login',
  'auth.signup',
  'auth.refresh',
  'auth.oauthExchange',
  'auth.twoFactor.verify',
]);

/**
 * Which access token each operation attempt went out with, recorded by the terminating link when it
 * builds the request (HTTP headers, websocket/SSE connection params).
 */
export type SentTokens = WeakMap<Operation, string | null>;

export function authLink(session: Session, sent: SentTokens): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        let inner: Unsubscribable | null = null;
        let stopped = false;
        const managed = !TOKEN_ISSUERS.has(op.path);

        const attempt = (isRetry: boolean) => {
          if (stopped) return;
          const tokenAtStart = session.accessToken();
          let delivered = false;
          inner = next(op).subscribe({
            next(envelope) {
              if ('data' in envelope.result) delivered = true;
              observer.next(envelope);
            },
            error(error) {
              // A subscription that has already delivered events is not replayed behind the app's back.
              if (!managed || isRetry || delivered || stopped || !isUnauthorized(error)) {
                observer.error(error);
                return;
              }
              const used = sent.has(op) ? (sent.get(op) ?? null) : tokenAtStart;
              if (used === null) {
                observer.error(error);
                return;
              }
              session.recover(used).then(
                () => attempt(true),
                () => observer.error(error),
              );
            },
            complete() {
              observer.complete();
            },
          });
        };

        if (managed && session.needsRefresh()) {
          session.ensureFresh().then(() => attempt(false));
        } else {
          attempt(false);
        }

        return () => {
          stopped = true;
          inner?.unsubscribe();
        };
      });
}
