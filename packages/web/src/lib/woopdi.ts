// The one SDK client of the app. Tokens live in localStorage so a reload stays signed in (the SDK
// README weighs this against memory-only storage); React hears sign-in changes through `authStore`.
import { createWoopdiClient, type WoopdiTokens } from '@woopdi/sdk';

const TOKENS_KEY = 'woopdi.tokens';

/** The API's base URL: VITE_WOOPDI_API_URL at build time, else the page's own origin. */
export const apiUrl: string = import.meta.env.VITE_WOOPDI_API_URL || window.location.origin;

function readTokens(): WoopdiTokens | null {
  try {
    const saved = localStorage.getItem(TOKENS_KEY);
    return saved ? (JSON.parse(saved) as WoopdiTokens) : null;
  } catch {
    return null;
  }
}

const listeners = new Set<() => void>();

export const woopdi = createWoopdiClient({
  url: apiUrl,
  tokens: readTokens(),
  onTokensChange: (tokens) => {
    if (tokens) localStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
    else localStorage.removeItem(TOKENS_KEY);
    for (const listener of listeners) listener();
  },
});

/** For useSyncExternalStore: whether the client holds tokens (signed in) right now. */
export const authStore = {
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  signedIn: () => woopdi.getTokens() !== null,
};
