// The real server on a free port against a fresh database, and SDK clients pointed at it.

import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { createMemoryBus } from '@woopdi/core';
import { type ApiServer, createRuntime, type Runtime, startApiServer } from '@woopdi/server';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import {
  createWoopdiClient,
  type FetchLike,
  type RouterOutputs,
  type WoopdiClient,
  type WoopdiClientOptions,
  type WoopdiTokens,
} from '../src/index.js';

export type UserEvent = RouterOutputs['users']['events'] extends AsyncIterable<infer E> ? E : never;

export interface TestServer {
  url: string;
  deps: TestDeps;
  runtime: Runtime;
  api: ApiServer;
  close(): Promise<void>;
}

/** `bus: 'memory'` swaps in the in-process bus (otherwise Redis when the test run has it). */
export async function startServer(
  env: Record<string, string> = {},
  options: { bus?: 'memory'; port?: number } = {},
): Promise<TestServer> {
  const base = await createTestDeps(env);
  const deps: TestDeps = options.bus === 'memory' ? { ...base, bus: createMemoryBus() } : base;
  const runtime = createRuntime(deps.config, deps.databaseUrl, deps.logger, deps.bus);
  const api = await startApiServer(runtime, { port: options.port ?? 0, host: '127.0.0.1' });
  return {
    url: api.url,
    deps,
    runtime,
    api,
    async close() {
      await api.stop();
      await runtime.close();
      await deps.close();
    },
  };
}

let counter = 0;
export const uniqueEmail = (prefix = 'sdk') =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}@example.com`;
export const PASSWORD = 'correct horse battery staple';

export interface Harness {
  client: WoopdiClient;
  /** Every value onTokensChange received, in order. */
  tokenChanges: (WoopdiTokens | null)[];
  /** Every request URL the client's fetch sent. */
  requests: string[];
  refreshes(): number;
}

const opened: WoopdiClient[] = [];

/** A client on Node with `ws` / `eventsource`, recording its token changes and HTTP requests. */
export function harness(server: TestServer, options: Partial<WoopdiClientOptions> = {}): Harness {
  const tokenChanges: (WoopdiTokens | null)[] = [];
  const requests: string[] = [];
  const recordingFetch: FetchLike = (input, init) => {
    requests.push(String(input instanceof Request ? input.url : input));
    return fetch(input as Parameters<typeof fetch>[0], init as Parameters<typeof fetch>[1]);
  };
  const client = createWoopdiClient({
    url: server.url,
    fetch: recordingFetch,
    WebSocket,
    EventSource,
    onTokensChange: (tokens) => void tokenChanges.push(tokens),
    ...options,
  });
  opened.push(client);
  return {
    client,
    tokenChanges,
    requests,
    refreshes: () => requests.filter((url) => url.includes('auth.refresh')).length,
  };
}

export async function closeClients() {
  await Promise.all(opened.splice(0).map((c) => c.close()));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Access tokens expire on whole seconds (JWT `exp`), so with a 1-second TTL a token lives between 0
 * and 1 s. Starting just after a second boundary makes the lifetimes in a test predictable.
 */
export async function atSecondStart() {
  const ms = Date.now() % 1000;
  if (ms > 50) await sleep(1000 - ms + 5);
}

export interface Recorded<T> {
  events: T[];
  errors: unknown[];
  started: Promise<void>;
  completed: Promise<void>;
  /** Resolves with the first event matching `match` (already received or still to come). */
  next(match: (event: T) => boolean, timeoutMs?: number): Promise<T>;
  unsubscribe(): void;
}

type Subscribe<T> = (handlers: {
  onStarted: () => void;
  onData: (event: T) => void;
  onError: (error: unknown) => void;
  onComplete: () => void;
}) => { unsubscribe(): void };

/** Subscribes and records what arrives. */
export function record<T>(subscribe: Subscribe<T>): Recorded<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  const waiters: { match: (e: T) => boolean; resolve: (e: T) => void }[] = [];
  let started!: () => void;
  let completed!: () => void;
  const startedP = new Promise<void>((r) => {
    started = r;
  });
  const completedP = new Promise<void>((r) => {
    completed = r;
  });
  const sub = subscribe({
    onStarted: () => started(),
    onData: (event) => {
      events.push(event);
      for (const w of [...waiters]) {
        if (w.match(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    },
    onError: (error) => {
      errors.push(error);
      completed();
    },
    onComplete: () => completed(),
  });
  return {
    events,
    errors,
    started: startedP,
    completed: completedP,
    next(match, timeoutMs = 10_000) {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    unsubscribe: () => sub.unsubscribe(),
  };
}

/** Resolves once `promise` settles, or rejects after `ms` naming `what`. */
export function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms),
    ),
  ]);
}

/**
 * The server sends `started` before its generator subscribes to the event bus, so an event published
 * right after `started` can be missed. Probe until the stream is live: sign in and out on another
 * session of the same user (each publishes a session.revoked for that other sign-in only) until one
 * arrives.
 */
export async function untilLive(server: TestServer, email: string, stream: Recorded<UserEvent>) {
  const failed = stream.completed.then(() => {
    throw new Error(`the subscription ended before it started: ${String(stream.errors[0] ?? 'completed')}`);
  });
  await within(Promise.race([stream.started, failed]), 'the subscription to start');
  for (let attempt = 0; attempt < 40; attempt++) {
    const seen = stream.events.length;
    const probe = createWoopdiClient({ url: server.url });
    await probe.login(email, PASSWORD);
    await probe.logout();
    await probe.close();
    const deadline = Date.now() + 250;
    while (Date.now() < deadline) {
      if (stream.events.slice(seen).some((e) => e.type === 'session.revoked')) return;
      await sleep(10);
    }
  }
  throw new Error('the subscription never went live');
}

/** A sign-in that needs no second step (the test account has two-factor off). */
export function signedIn<R extends { twoFactorRequired: boolean }>(
  result: R,
): Extract<R, { twoFactorRequired: false }> {
  if (result.twoFactorRequired) throw new Error('expected a sign-in without two-factor, got a challenge');
  return result as Extract<R, { twoFactorRequired: false }>;
}
