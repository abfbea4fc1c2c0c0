// Caps on long-lived connections (issue #14): open websockets (/trpc, /tasks/{taskId}/ws) and SSE
// streams (GET /tasks/{taskId}/events) per user (WS_MAX_PER_USER) and per client address
// (WS_MAX_PER_ADDRESS). Counted in this process — each api process holds its own sockets — and
// given back exactly when the connection closes. A refusal says which limit was hit: HTTP 429 with
// a JSON body before an upgrade, or close code 1013 "Try Again Later" on a /trpc socket whose user
// is only known from its connectionParams, after the upgrade.
import type { IncomingMessage } from 'node:http';
import type { Config } from '@woopdi/core';
import proxyaddr from 'proxy-addr';
import type { ErrorResponse } from './errors.js';

/** express's `trust proxy` setting (app.ts); the same resolution gives a connection's address. */
export const TRUST_PROXY = 'loopback, linklocal, uniquelocal';

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

export interface ConnectionLimits {
  readonly maxPerUser: number;
  readonly maxPerAddress: number;
  /** A slot for one more connection from `address`, or null when it has its maximum open. */
  forAddress(address: string): Release | null;
  /** A slot for one more connection of `userId`, or null when it has its maximum open. */
  forUser(userId: string): Release | null;
  /** The client's address through the trusted proxies, as express's req.ip. */
  addressOf(req: IncomingMessage): string;
  /** Connections counted now, per kind (diagnostics and tests). */
  open(): { addresses: number; users: number };
}

/** One counter per key; a key at zero is forgotten, so the maps hold only live connections. */
function counter(max: number) {
  const counts = new Map<string, number>();
  return {
    counts,
    take(key: string): Release | null {
      const n = counts.get(key) ?? 0;
      if (n >= max) return null;
      counts.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      };
    },
  };
}

const sum = (counts: Map<string, number>) => {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
};

export function createConnectionLimits(
  config: Pick<Config, 'connectionLimits'>,
  trustProxy: string = TRUST_PROXY,
): ConnectionLimits {
  const { maxPerUser, maxPerAddress } = config.connectionLimits;
  const users = counter(maxPerUser);
  const addresses = counter(maxPerAddress);
  const trust = proxyaddr.compile(trustProxy.split(',').map((s) => s.trim()));
  return {
    maxPerUser,
    maxPerAddress,
    forAddress: (address) => addresses.take(address),
    forUser: (userId) => users.take(userId),
    addressOf: (req) => (req.socket?.remoteAddress ? proxyaddr(req, trust) : 'unknown'),
    open: () => ({ addresses: sum(addresses.counts), users: sum(users.counts) }),
  };
}

export const tooManyFromAddress = (max: number): ErrorResponse => ({
  status: 429,
  body: {
    code: 'TOO_MANY_REQUESTS',
    message: `Too many open connections from your address: at most ${max} websockets and event streams at once. Close one, then retry.`,
  },
});

export const tooManyForUser = (max: number): ErrorResponse => ({
  status: 429,
  body: {
    code: 'TOO_MANY_REQUESTS',
    message: `Too many open connections for your account: at most ${max} websockets and event streams at once. Close one, then retry.`,
  },
});

/** A close reason fits in 123 bytes: the short form of tooManyForUser. */
export const tooManyForUserReason = (max: number) =>
  `too many open connections for your account (at most ${max}): close one, then retry`;
