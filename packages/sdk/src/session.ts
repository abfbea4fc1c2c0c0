// Holds the tokens, tells the app when they change, and refreshes them: one refresh at a time, shared
// by every caller that needs it.
import { TRPCClientError } from '@trpc/client';
import type { WoopdiTokens } from './types.js';

export type TokensListener = (tokens: WoopdiTokens | null) => void | Promise<void>;

/** Error codes with which the server rejects a refresh token for good: sign in again. */
const FINAL_REFRESH_CODES = new Set(['UNAUTHORIZED', 'BAD_REQUEST', 'FORBIDDEN', 'NOT_FOUND']);

export function errorCode(error: unknown): string | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { code?: unknown } | undefined | null;
  return typeof data?.code === 'string' ? data.code : undefined;
}

export const isUnauthorized = (error: unknown) => errorCode(error) === 'UNAUTHORIZED';

export class Session {
  private tokens: WoopdiTokens | null;
  private inflight: Promise<WoopdiTokens> | null = null;
  /**
   * An access token that looked expired the moment it arrived: the local clock runs ahead of the
   * server's. It is not refreshed ahead of time (that would refresh before every call); the server's
   * UNAUTHORIZED answer still triggers a refresh.
   */
  private skewed: string | null = null;
  private readonly listener: TokensListener | undefined;
  private readonly exchange: (refreshToken: string) => Promise<WoopdiTokens>;
  private readonly apiKey: string | null;

  constructor(
    initial: WoopdiTokens | null,
    listener: TokensListener | undefined,
    exchange: (refreshToken: string) => Promise<WoopdiTokens>,
    /** An organization API key (`wpd_…`): sent on every call, never refreshed. */
    apiKey: string | null = null,
  ) {
    this.tokens = initial;
    this.listener = listener;
    this.exchange = exchange;
    this.apiKey = apiKey;
  }

  get(): WoopdiTokens | null {
    return this.tokens;
  }

  accessToken(): string | null {
    return this.apiKey ?? this.tokens?.accessToken ?? null;
  }

  set(tokens: WoopdiTokens | null): void {
    if (tokens === this.tokens) return;
    this.tokens = tokens;
    this.skewed = tokens && expired(tokens) ? tokens.accessToken : null;
    this.notify(tokens);
  }

  /** True when the access token's own expiry time has passed and a refresh token is held. */
  needsRefresh(): boolean {
    const tokens = this.tokens;
    if (this.apiKey) return false;
    return tokens !== null && tokens.accessToken !== this.skewed && expired(tokens);
  }

  /** Refreshes ahead of a call when the access token has expired. Never throws. */
  async ensureFresh(): Promise<void> {
    if (!this.needsRefresh()) return;
    await this.refresh().catch(() => undefined);
  }

  /**
   * After the server refused `usedToken`: refresh, unless another call already replaced that token
   * (then its successor is simply used). Rejects when there is nothing to refresh with or the
   * refresh failed.
   */
  async recover(usedToken: string | null): Promise<void> {
    // A refused API key stays refused (revoked or expired): the caller sees the 401.
    if (this.apiKey) throw new Error('the API key was refused');
    const current = this.tokens;
    if (!current) throw new Error('signed out');
    if (usedToken !== null && current.accessToken !== usedToken) return;
    await this.refresh();
  }

  /**
   * Exchanges the refresh token for new tokens. Concurrent callers share one request. When the
   * server refuses the refresh token, the tokens are cleared (the listener hears `null`); on a
   * network or server failure they are kept, so a flaky connection does not sign anyone out.
   */
  refresh(): Promise<WoopdiTokens> {
    if (this.inflight) return this.inflight;
    const current = this.tokens;
    if (!current) return Promise.reject(new Error('There are no tokens to refresh: sign in first.'));
    const run = async () => {
      try {
        const next = await this.exchange(current.refreshToken);
        // Tokens set meanwhile (login, logout, setTokens) win over this refresh's result.
        if (this.tokens === current) this.set(next);
        return next;
      } catch (error) {
        const code = errorCode(error);
        if (code !== undefined && FINAL_REFRESH_CODES.has(code) && this.tokens === current) this.set(null);
        throw error;
      } finally {
        this.inflight = null;
      }
    };
    this.inflight = run();
    return this.inflight;
  }

  private notify(tokens: WoopdiTokens | null) {
    if (!this.listener) return;
    const report = (error: unknown) => logError('[@woopdi/sdk] onTokensChange failed:', error);
    try {
      const result = this.listener(tokens);
      if (result && typeof result.then === 'function') result.then(undefined, report);
    } catch (error) {
      report(error);
    }
  }
}

function expired(tokens: WoopdiTokens): boolean {
  const at = Date.parse(tokens.accessTokenExpiresAt);
  return Number.isFinite(at) && at <= Date.now();
}

/** console.error where there is a console, without needing DOM or Node typings. */
function logError(...args: unknown[]) {
  (globalThis as { console?: { error(...args: unknown[]): void } }).console?.error(...args);
}
