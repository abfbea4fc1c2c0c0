// What the tRPC websocket at /trpc checks before tRPC runs anything (issue #14):
// - a frame (JSON array) of more calls than TRPC_MAX_BATCH_SIZE is answered with a BAD_REQUEST
//   error for each of its ids, naming the limit, and never reaches tRPC: none of its calls run;
// - a socket that sends nothing (no connectionParams, no call) within WS_FIRST_MESSAGE_TIMEOUT_MS
//   is closed with 1008. A public socket that only calls public procedures is fine: it speaks.
// - the user a socket authenticates as (its token, from connectionParams or the Authorization
//   header) takes one of that user's WS_MAX_PER_USER slots; over the limit the socket is closed
//   with 1013 before any of its calls run.
import type { IncomingMessage } from 'node:http';
import { getErrorShape, TRPCError, transformTRPCResponse } from '@trpc/server';
import type { CreateWSSContextFnOptions } from '@trpc/server/adapters/ws';
import {
  type ApiDeps,
  appRouter,
  authenticate,
  type Context,
  createContextFactory,
  isApiKeyToken,
} from '@woopdi/api';
import { apiKeyFamilyId } from '@woopdi/core';
import type { RawData, WebSocket } from 'ws';
import { type ConnectionLimits, tooManyForUserReason } from './socket-limits.js';
import { CLOSE_POLICY_VIOLATION, CLOSE_TOO_SLOW } from './task-ws.js';

/** RFC 6455 "Try Again Later": also what a full per-user quota closes with (a slot may free up). */
export const CLOSE_TRY_AGAIN_LATER = CLOSE_TOO_SLOW;
/** How long a closed socket may take to answer the close frame before it is cut off. */
const CLOSE_GRACE_MS = 5_000;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Closes with `code`, and cuts the connection if the client does not even answer the close. */
function closeThenCut(ws: WebSocket, code: number, reason: string) {
  if (ws.readyState !== ws.OPEN) return;
  ws.close(code, reason);
  setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
}

/** Whether the first byte that is not JSON whitespace is `[`: only then can a frame be a batch. */
function looksLikeArray(data: Buffer): boolean {
  for (const byte of data) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x5b;
  }
  return false;
}

export interface TrpcSocketGuardOptions {
  maxBatchSize: number;
  firstMessageTimeoutMs: number;
}

/**
 * Installs the checks on a new /trpc socket. It wraps the socket's `emit` so that a refused
 * frame is never delivered to tRPC's own `message` listener (listeners cannot stop each other).
 */
export function guardTrpcSocket(ws: WebSocket, req: IncomingMessage, options: TrpcSocketGuardOptions) {
  const { maxBatchSize, firstMessageTimeoutMs } = options;
  // With `?connectionParams=1` tRPC takes the first frame as the connection params, not as calls.
  const paramsFirst =
    new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
  let messages = 0;

  const silence = setTimeout(
    () =>
      closeThenCut(
        ws,
        CLOSE_POLICY_VIOLATION,
        `nothing sent within ${firstMessageTimeoutMs} ms: send connectionParams or a call first`,
      ),
    firstMessageTimeoutMs,
  );
  silence.unref();
  ws.once('close', () => clearTimeout(silence));

  /** False when the frame was refused here and must not reach tRPC. */
  const admit = (data: RawData): boolean => {
    if (!Buffer.isBuffer(data)) return true;
    // tRPC's own heartbeat frames do not count as speaking.
    if (data.length === 4 && (data.toString() === 'PING' || data.toString() === 'PONG')) return true;
    messages += 1;
    if (messages === 1) clearTimeout(silence);
    if ((messages === 1 && paramsFirst) || !looksLikeArray(data)) return true;
    let calls: unknown;
    try {
      calls = JSON.parse(data.toString('utf8'));
    } catch {
      return true; // tRPC answers PARSE_ERROR
    }
    if (!Array.isArray(calls) || calls.length <= maxBatchSize) return true;
    refuseBatch(ws, calls, maxBatchSize);
    return false;
  };

  const emit = ws.emit.bind(ws);
  ws.emit = ((event: string | symbol, ...args: unknown[]) =>
    event === 'message' && !admit(args[0] as RawData) ? false : emit(event, ...args)) as typeof ws.emit;
}

/** Answers every call of the frame with the same BAD_REQUEST, as tRPC answers an HTTP batch. */
function refuseBatch(ws: WebSocket, calls: unknown[], maxBatchSize: number) {
  const config = appRouter._def._config;
  const error = new TRPCError({
    code: 'BAD_REQUEST',
    message: `Batch call exceeds maximum size: one websocket frame may carry at most ${maxBatchSize} calls, this one has ${calls.length}. Send fewer calls per frame.`,
  });
  const shape = getErrorShape({
    config,
    error,
    type: 'unknown',
    path: undefined,
    input: undefined,
    ctx: undefined,
  });
  const send = (id: string | number | null, jsonrpc?: '2.0') =>
    ws.send(JSON.stringify(transformTRPCResponse(config, { id, jsonrpc, error: shape })));
  let answered = false;
  for (const call of calls) {
    // A stop has no answer in tRPC either; an id is what the client waits on.
    if (!isObject(call) || call.method === 'subscription.stop') continue;
    if (typeof call.id !== 'number' && typeof call.id !== 'string') continue;
    send(call.id, call.jsonrpc === '2.0' ? '2.0' : undefined);
    answered = true;
  }
  if (!answered) send(null);
}

/**
 * Wraps the /trpc createContext: the token the socket authenticates with (called once per
 * connection, with the connectionParams when the client sends them) takes a per-user slot, given
 * back when the socket closes. An invalid token takes none: its calls fail UNAUTHORIZED anyway and
 * the socket still counts against its address.
 */
export function withUserSlot(deps: ApiDeps, limits: ConnectionLimits) {
  const createContext = createContextFactory(deps);
  return async (opts: CreateWSSContextFnOptions): Promise<Context> => {
    const ctx = createContext(opts);
    const ws = opts.res;
    if (!ctx.accessToken) return ctx;
    // An organization API key holds slots of its own (not its creator's); an invalid one takes none.
    const holder = isApiKeyToken(ctx.accessToken)
      ? await authenticate(ctx).then(
          (session) => apiKeyFamilyId(session.apiKey!.id),
          () => undefined,
        )
      : (await deps.accessTokens.verify(ctx.accessToken))?.sub;
    if (!holder || ws.readyState !== ws.OPEN) return ctx;
    const release = limits.forUser(holder);
    if (!release) {
      const reason = tooManyForUserReason(limits.maxPerUser);
      closeThenCut(ws, CLOSE_TRY_AGAIN_LATER, reason);
      // Fails every call waiting on this context: none of them runs.
      throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: reason });
    }
    ws.once('close', release);
    return ctx;
  };
}
