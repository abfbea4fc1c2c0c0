// Plain Server-Sent Events for a task's live events: `GET /tasks/{taskId}/events`, for clients that
// are not tRPC (curl -N, a browser's EventSource, any language). The same gates and the same shared
// fan-out as the tasks.events subscription: every event after Last-Event-ID exactly once, in order
// (frame `id: <seq>`, `event: <type>`, `data: <event JSON>`), then the response ends after
// task_end / task_error.
import type { IncomingMessage } from 'node:http';
import {
  type ApiDeps,
  authorizeTaskStream,
  type Context,
  createContextFactory,
  type Follow,
  getTaskFanout,
  type PendingFollow,
} from '@woopdi/api';
import { metrics } from '@woopdi/core';
import type { RequestHandler } from 'express';
import { type ErrorResponse, errorResponseOf } from './errors.js';
import { type ConnectionLimits, tooManyForUser, tooManyFromAddress } from './socket-limits.js';

export type StreamError = ErrorResponse;
/** The status and JSON body for an error raised before streaming; undefined for an unexpected error. */
export const streamErrorOf = errorResponseOf;

export class StreamRequestError extends Error {
  readonly error: StreamError;

  constructor(error: StreamError) {
    super(error.body.message);
    this.error = error;
  }
}

const first = (value: string | string[] | null | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * The request's Context, with the access token from `Authorization: Bearer …` or else `?token=`
 * (EventSource and browser websockets cannot send headers), and the last event id the client has
 * seen, from the `Last-Event-ID` header or `?lastEventId=` (0: from the start).
 */
export function streamRequest(
  createContext: ReturnType<typeof createContextFactory>,
  req: IncomingMessage,
): { ctx: Context; lastEventId: number } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const ctx = createContext({ req });
  if (!ctx.accessToken) ctx.accessToken = url.searchParams.get('token') || null;
  const raw = (first(req.headers['last-event-id']) ?? url.searchParams.get('lastEventId') ?? '').trim();
  if (raw !== '' && !/^\d{1,9}$/.test(raw)) {
    throw new StreamRequestError({
      status: 400,
      body: {
        code: 'BAD_REQUEST',
        message: 'Last-Event-ID (or lastEventId) must be the seq of an event: a non-negative integer.',
      },
    });
  }
  return { ctx, lastEventId: raw === '' ? 0 : Number(raw) };
}

export interface TaskEventsSseOptions {
  /** A comment line is sent this often so proxies and clients keep the idle connection; default 15 s. */
  heartbeatMs?: number;
  /** Bytes queued for one response before it is dropped as too slow; default config.streamMaxBufferedBytes. */
  maxBufferedBytes?: number;
  /** Open streams per address and per user, shared with the websockets (socket-limits.ts). */
  limits?: ConnectionLimits;
}

const HEARTBEAT = Buffer.from(': heartbeat\n\n');

/**
 * `GET /tasks/:taskId/events`. Errors before streaming answer JSON with the REST status (401 without
 * a valid token, 404 for a task the caller cannot see, 400 for a bad Last-Event-ID); a reconnect
 * after the terminal event answers 204 (EventSource then stops reconnecting). While streaming, an
 * error (the caller lost access) is sent as an `event: error` frame before the response ends.
 *
 * Each response is a follower of the process's shared fan-out: the SSE frame of an event is built
 * once and written to every response following the task. A client that reads too slowly (more than
 * STREAM_MAX_BUFFERED_BYTES queued for it) is cut off; its EventSource reconnects with
 * Last-Event-ID and resumes.
 *
 * With `options.limits`, a stream holds one of its address's and one of its user's connection
 * slots until the response closes; over either limit the answer is 429.
 */
export function taskEventsSse(deps: ApiDeps, options: TaskEventsSseOptions = {}): RequestHandler {
  const createContext = createContextFactory(deps);
  const fanout = getTaskFanout(deps);
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? deps.config.streamMaxBufferedBytes;

  return async (req, res, next) => {
    const taskId = String(req.params.taskId ?? '');
    let gone = false;
    res.once('close', () => {
      gone = true;
    });
    const limits = options.limits;
    if (limits) {
      const release = limits.forAddress(limits.addressOf(req));
      if (!release) {
        const refusal = tooManyFromAddress(limits.maxPerAddress);
        res.status(refusal.status).json(refusal.body);
        return;
      }
      res.once('close', release);
    }

    let pending: PendingFollow;
    try {
      const { ctx, lastEventId } = streamRequest(createContext, req);
      const scope = await authorizeTaskStream(ctx, taskId);
      if (limits) {
        const release = limits.forUser(scope.userId);
        if (!release) throw new StreamRequestError(tooManyForUser(limits.maxPerUser));
        if (gone) release();
        else res.once('close', release);
      }
      pending = await fanout.open(scope, lastEventId);
    } catch (error) {
      const known = error instanceof StreamRequestError ? error.error : streamErrorOf(error);
      if (!known) {
        next(error);
        return;
      }
      if (!res.headersSent) res.status(known.status).json(known.body);
      return;
    }
    if (gone) {
      pending.cancel();
      return;
    }
    if (pending.complete) {
      // The client already has the terminal event: 204 tells an EventSource to stop reconnecting.
      pending.cancel();
      res.status(204).end();
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    const heartbeat = setInterval(() => {
      if (!res.writableEnded) res.write(HEARTBEAT);
    }, heartbeatMs);
    heartbeat.unref();
    let follow: Follow | undefined;
    let dropped = false;
    const done = () => {
      clearInterval(heartbeat);
      follow?.close();
      pending.cancel();
    };
    res.once('close', done);
    follow = pending.attach({
      deliver(entry) {
        if (dropped || res.writableEnded || res.destroyed) return;
        res.write(entry.sseBytes());
        if (res.writableLength > maxBufferedBytes) {
          dropped = true;
          metrics.slowStreamDrops.inc({ transport: 'sse' });
          // No close frame to send: the connection ends and EventSource resumes with Last-Event-ID.
          queueMicrotask(() => res.destroy());
        }
      },
      end(reason) {
        if (dropped || res.writableEnded || res.destroyed) return;
        if (reason.kind === 'access-lost') {
          const known = streamErrorOf(reason.error);
          const body = known?.body ?? { code: 'FORBIDDEN', message: reason.error.message };
          res.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
        }
        res.end();
      },
    });
  };
}
