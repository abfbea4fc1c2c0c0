import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  retryLink,
  splitLink,
  type TRPCClient,
} from '@trpc/client';
import { authLink, type SentTokens } from './auth-link.js';
import { isUnauthorized, Session, type TokensListener } from './session.js';
import {
  type EventSourceConstructor,
  type Subscriptions,
  sseSubscriptions,
  type WebSocketConstructor,
  webSocketSubscriptions,
} from './subscriptions.js';
import { createTasks, type WoopdiTasks } from './tasks.js';
import type { AppRouter, RouterInputs, RouterOutputs, WoopdiTokens } from './types.js';

/** A `fetch`-compatible function (the platform's, or a wrapper for logging, tests, retries). */
/** How often a query answered 503 (service temporarily unavailable) is tried again. */
const QUERY_RETRIES = 3;

export type FetchLike = NonNullable<Parameters<typeof httpBatchLink>[0]['fetch']>;

export interface WoopdiClientOptions {
  /** Base URL of the Woopdi server, e.g. `https://api.example.com` (the client adds `/trpc`). */
  url: string;
  /** Tokens from an earlier sign-in (for example read back from storage). */
  tokens?: WoopdiTokens | null | undefined;
  /**
   * An organization API key (`wpd_…`) for a backend acting without a user: sent as the bearer on
   * every call (and in the websocket's connection params), never refreshed. Procedures of its own
   * organization only, with its role; user-only procedures answer FORBIDDEN.
   */
  apiKey?: string | undefined;
  /**
   * Called whenever the held tokens change: after login/signup, every refresh, setTokens, and with
   * `null` on logout or when the server refuses the refresh token. Persist them here.
   */
  onTokensChange?: TokensListener | undefined;
  /** A fetch implementation; defaults to the global one. */
  fetch?: FetchLike | undefined;
  /** WebSocket class for subscriptions over websocket; defaults to the global one (Node 20: pass `ws`). */
  WebSocket?: WebSocketConstructor | undefined;
  /** EventSource class for subscriptions over SSE; defaults to the global one (Node: the `eventsource` package). */
  EventSource?: EventSourceConstructor | undefined;
  /** Transport for subscriptions: `'ws'` (default) or `'sse'`. Queries and mutations always use HTTP. */
  subscriptions?: 'ws' | 'sse' | undefined;
  /** Websocket URL, when it differs from `url` with ws(s):// and /trpc. */
  wsUrl?: string | undefined;
  /** Called when the active organization changes (sign-in restores the account's last one). */
  onActiveOrganizationChange?: ((organizationId: string | null) => void) | undefined;
}

export interface WoopdiClient {
  /** The typed tRPC client: `api.users.me.query()`, `api.organizations.create.mutate({ name })`, … */
  api: TRPCClient<AppRouter>;
  /**
   * Signs in and keeps the tokens. Rejects with UNAUTHORIZED on a wrong email or password. With
   * two-factor on, it answers `{ twoFactorRequired: true, challengeToken }` and keeps nothing yet:
   * ask for a code and call verifyTwoFactor. Check `result.twoFactorRequired` before `result.user`.
   */
  login(email: string, password: string): Promise<RouterOutputs['auth']['login']>;
  /**
   * The sign-in's second step: the challenge from login plus a 6-digit code from the authenticator
   * app, or `{ recoveryCode }`. Keeps the tokens, like login without two-factor. Rejects with
   * UNAUTHORIZED on a wrong or reused code (the challenge stays usable) or an expired challenge
   * (sign in again), TOO_MANY_REQUESTS after too many wrong codes.
   */
  verifyTwoFactor(
    challengeToken: string,
    code: string | { recoveryCode: string },
  ): Promise<RouterOutputs['auth']['twoFactor']['verify']>;
  /** Creates an account (and its personal organization), signs in and keeps the tokens. */
  signup(input: RouterInputs['auth']['signup']): Promise<RouterOutputs['auth']['signup']>;
  /**
   * Finishes an OAuth / OpenID Connect sign-in: the one-time `code` the server's callback put in
   * the redirect (`redirectTo?code=…`) is exchanged for tokens, which are kept as after `login`
   * (with two-factor on it answers the challenge instead: finish with `verifyTwoFactor`).
   */
  oauthExchange(code: string): Promise<RouterOutputs['auth']['oauthExchange']>;
  /**
   * Signs out on the server (this sign-in, or every one with `everywhere: true`) and forgets the
   * tokens. The tokens are forgotten even when the server cannot be reached (the error is rethrown).
   */
  logout(opts?: { everywhere?: boolean | undefined }): Promise<void>;
  /** Replaces the held tokens (`null` signs out locally). onTokensChange hears it. */
  setTokens(tokens: WoopdiTokens | null): void;
  getTokens(): WoopdiTokens | null;
  /** Refreshes the tokens now. Concurrent calls share one request. */
  refresh(): Promise<WoopdiTokens>;
  /**
   * Long-running tasks' live events, resumable: `tasks.follow(taskId, { onEvent })` or
   * `for await (const event of tasks.events(taskId))`. Every event exactly once, in order.
   */
  tasks: WoopdiTasks;
  /**
   * The organization the user is working in: restored from the account on login/signup (so every
   * device starts where the user left off), `null` when none was chosen yet.
   */
  activeOrganizationId(): string | null;
  /** Switches the active organization and remembers it on the account (the caller must be a member). */
  setActiveOrganization(organizationId: string): Promise<void>;
  /** Closes the websocket connections. The client must not be used afterwards. */
  close(): Promise<void>;
}

/** `https://host/base` → `wss://host/base/trpc` (relative URLs resolve against the page's location). */
function toWebSocketUrl(base: string): string {
  const url = new URL(base, (globalThis as { location?: { href: string } }).location?.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/trpc`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

export function createWoopdiClient(options: WoopdiClientOptions): WoopdiClient {
  const base = options.url.replace(/\/+$/, '');
  const httpUrl = `${base}/trpc`;
  const sent: SentTokens = new WeakMap();

  // Token issuance goes around the auth link, so a refresh never waits on or retries itself.
  const fetchOption = options.fetch ? { fetch: options.fetch } : {};
  const issuer = createTRPCClient<AppRouter>({ links: [httpLink({ url: httpUrl, ...fetchOption })] });
  const session = new Session(
    options.tokens ?? null,
    options.onTokensChange,
    (refreshToken) => issuer.auth.refresh.mutate({ refreshToken }),
    options.apiKey ?? null,
  );

  const globals = globalThis as { WebSocket?: WebSocketConstructor; EventSource?: EventSourceConstructor };
  let subscriptions: Subscriptions;
  if (options.subscriptions === 'sse') {
    const EventSource = options.EventSource ?? globals.EventSource;
    if (!EventSource) {
      throw new Error(
        'subscriptions: "sse" needs an EventSource: pass `EventSource` (on Node: from the "eventsource" package).',
      );
    }
    subscriptions = sseSubscriptions({ url: httpUrl, EventSource, session, sent });
  } else {
    subscriptions = webSocketSubscriptions({
      url: options.wsUrl ?? toWebSocketUrl(base),
      WebSocket: options.WebSocket ?? globals.WebSocket,
      session,
      sent,
    });
  }

  const api = createTRPCClient<AppRouter>({
    links: [
      authLink(session, sent),
      // A dependency outage answers 503: queries (idempotent) are tried again with backoff;
      // mutations never, so nothing is done twice.
      retryLink({
        retry: ({ op, error, attempts }) =>
          op.type === 'query' && error.data?.httpStatus === 503 && attempts <= QUERY_RETRIES,
        retryDelayMs: (attempt) => Math.min(4_000, 250 * 2 ** attempt) * (0.75 + Math.random() / 2),
      }),
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: subscriptions.link,
        false: httpBatchLink({
          url: httpUrl,
          ...fetchOption,
          maxURLLength: 2083,
          headers: ({ opList }) => {
            const token = session.accessToken();
            for (const op of opList) sent.set(op, token);
            return token ? { authorization: `Bearer ${token}` } : {};
          },
        }),
      }),
    ],
  });

  let closed = false;
  let activeOrganization: string | null = null;
  const setActive = (id: string | null) => {
    if (id === activeOrganization) return;
    activeOrganization = id;
    options.onActiveOrganizationChange?.(id);
  };
  return {
    api,
    tasks: createTasks(api, () => closed),
    async login(email, password) {
      const result = await api.auth.login.mutate({ email, password });
      if (result.twoFactorRequired) return result;
      session.set(result.tokens);
      setActive(result.user.lastActiveOrganizationId);
      return result;
    },
    async verifyTwoFactor(challengeToken, code) {
      const result = await api.auth.twoFactor.verify.mutate(
        typeof code === 'string'
          ? { challengeToken, code }
          : { challengeToken, recoveryCode: code.recoveryCode },
      );
      session.set(result.tokens);
      setActive(result.user.lastActiveOrganizationId);
      return result;
    },
    async signup(input) {
      const result = await api.auth.signup.mutate(input);
      session.set(result.tokens);
      setActive(result.user.lastActiveOrganizationId);
      return result;
    },
    async oauthExchange(code) {
      const result = await api.auth.oauthExchange.mutate({ code });
      if (result.twoFactorRequired) return result;
      session.set(result.tokens);
      setActive(result.user.lastActiveOrganizationId);
      return result;
    },
    async logout(opts = {}) {
      if (!session.get()) return;
      try {
        await api.auth.logout.mutate({ everywhere: opts.everywhere ?? false });
      } catch (error) {
        // UNAUTHORIZED: this sign-in had already ended, which is what logging out wants.
        if (!isUnauthorized(error)) throw error;
      } finally {
        session.set(null);
        setActive(null);
      }
    },
    activeOrganizationId: () => activeOrganization,
    async setActiveOrganization(organizationId) {
      const { lastActiveOrganizationId } = await api.users.setActiveOrganization.mutate({ organizationId });
      setActive(lastActiveOrganizationId);
    },
    setTokens: (tokens) => session.set(tokens),
    getTokens: () => session.get(),
    refresh: () => session.refresh(),
    close: () => {
      closed = true;
      return subscriptions.close();
    },
  };
}
