// Starts the real API server on a free port against a fresh test database.
import { createServer } from 'node:net';
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import type { Storage, Stripe } from '@woopdi/core';
import { type ApiServer, createRuntime, type Runtime, startApiServer } from '../src/index.js';
import { exchanges } from './openapi-conformance.js';

export interface TestServer {
  deps: TestDeps;
  runtime: Runtime;
  api: ApiServer;
  url: string;
  close(): Promise<void>;
}

/**
 * `options.stripe`: a Stripe client for the server (startFakeStripe's), shared with `deps`.
 * `options.port`: a port chosen up front (freePort), for tests whose env must name the server's URL.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { stripe?: Stripe; storage?: Storage; webAppDir?: string; port?: number } = {},
): Promise<TestServer> {
  const deps = await createTestDeps(env, options);
  // deps.storage: the test's local driver in a temp dir; its signed URLs then point at this server.
  const runtime = createRuntime(
    deps.config,
    deps.databaseUrl,
    deps.logger,
    undefined,
    deps.storage,
    deps.stripe,
  );
  const api = await startApiServer(runtime, {
    port: options.port ?? 0,
    host: '127.0.0.1',
    webAppDir: options.webAppDir,
  });
  return {
    deps,
    runtime,
    api,
    url: api.url,
    async close() {
      await api.stop();
      await runtime.close();
      await deps.close();
    },
  };
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A fetch that sends JSON and always reads the answer as text, parsing it when it is JSON. */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const method = init.method ?? (body ? 'POST' : 'GET');
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  // Kept for the OpenAPI conformance check (openapi-conformance.ts) of the files that run it.
  exchanges.push({
    method,
    pathname: new URL(url).pathname,
    status: res.status,
    contentType: res.headers.get('content-type'),
    headers: Object.fromEntries(res.headers),
    body: parsed,
    text,
    ...(headers['content-type'] === 'application/json' && { sent: jsonOrUndefined(body) }),
  });
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

function jsonOrUndefined(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

let counter = 0;
/** A unique email per call, so tests in one file never collide. */
export const uniqueEmail = (prefix = 'user') =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}@example.com`;

export const PASSWORD = 'correct horse battery staple';

/** What an error body leaks from the server (a stack, source paths); empty when clean. */
export function leaksOf(text: string): string[] {
  const problems: string[] = [];
  if (/"stack"\s*:/.test(text)) problems.push('has a "stack" field');
  if (/\/work\/|node_modules|\.ts:\d+|\.js:\d+|\bat\s+\S+\s+\(/.test(text)) problems.push('mentions a path');
  return problems;
}

/** A TCP port nothing listens on right now (for spawned processes that need PORT up front). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
