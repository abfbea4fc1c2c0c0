// Plain Server-Sent Events for a task's live events: `GET /tasks/{taskId}/events`, for clients that
// are not tRPC (curl -N, a browser's EventSource, any language). The same gates and the same stream
// as the tasks.events subscription: every event after Last-Event-ID exactly once, in order, then the
// response ends after task_end / task_error.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiDeps, type Context, createContextFactory, openTaskStream } from '@woopdi/api';
import { isTerminalEvent, type TaskEvent } from '@woopdi/core';
import type { RequestHandler } from 'express';
import { type ErrorResponse, errorResponseOf } from './errors.js';

export type StreamError = ErrorResponse;
/** The status and JSON body for an error raised before streaming; undefined for an unexpected error. */
export const streamErrorOf = errorResponseOf;

export class StreamRequestError extends Error {
  constructor(readonly error: StreamError) {
    super(error.body.message);
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

/** One SSE frame: the seq is the event id (what EventSource sends back as Last-Event-ID). */
export const sseFrame = (event: TaskEvent) =>
  `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/** Writes, waiting for the socket to drain when its buffer is full; false once the client is gone. */
async function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** True when the task has finished and the client has already seen its last event. */
export async function alreadySent(ctx: Context, taskId: string, lastEventId: number): Promise<boolean> {
  if (lastEventId === 0) return false;
  const task = await ctx.db.query.tasks.findFirst({
    where: (t, { eq }) => eq(t.id, taskId),
    columns: { status: true, lastSeq: true },
  });
  return !!task && task.status !== 'queued' && task.status !== 'running' && lastEventId >= task.lastSeq;
}

export interface TaskEventsSseOptions {
  /** A comment line is sent this often so proxies and clients keep the idle connection; default 15 s. */
  heartbeatMs?: number;
}

/**
 * `GET /tasks/:taskId/events`. Errors before streaming answer JSON with the REST status (401 without
 * a valid token, 404 for a task the caller cannot see, 400 for a bad Last-Event-ID); a reconnect
 * after the terminal event answers 204 (EventSource then stops reconnecting). While streaming, an
 * error (the caller lost access) is sent as an `event: error` frame before the response ends.
 */
export function taskEventsSse(deps: ApiDeps, options: TaskEventsSseOptions = {}): RequestHandler {
  const createContext = createContextFactory(deps);
  const heartbeatMs = options.heartbeatMs ?? 15_000;

  return async (req, res, next) => {
    const taskId = String(req.params.taskId ?? '');
    const controller = new AbortController();
    // The client went away (or the response ended): the bus subscriptions close with the signal.
    res.once('close', () => controller.abort());

    let stream: AsyncGenerator<TaskEvent>;
    let finished: boolean;
    try {
      const { ctx, lastEventId } = streamRequest(createContext, req);
      stream = await openTaskStream(ctx, taskId, lastEventId, controller.signal);
      finished = await alreadySent(ctx, taskId, lastEventId);
    } catch (error) {
      controller.abort();
      const known = error instanceof StreamRequestError ? error.error : streamErrorOf(error);
      if (!known) {
        next(error);
        return;
      }
      if (!res.headersSent) res.status(known.status).json(known.body);
      return;
    }

    const iterator = stream[Symbol.asyncIterator]();
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      if (finished) {
        // The client already has the terminal event: 204 tells an EventSource to stop reconnecting.
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
      heartbeat = setInterval(() => void write(res, ': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      if (!(await write(res, 'retry: 2000\n\n'))) return;
      for (let result = await iterator.next(); !result.done; result = await iterator.next()) {
        const event = result.value;
        if (!(await write(res, sseFrame(event)))) return;
        if (isTerminalEvent(event.type)) return;
      }
    } catch (error) {
      const known = streamErrorOf(error);
      if (!known) req.log?.error({ err: error, taskId }, 'task event stream failed');
      const body = known?.body ?? {
        code: 'INTERNAL_SERVER_ERROR',
        message: 'The event stream failed on our side; reconnect with Last-Event-ID to resume.',
      };
      if (!res.headersSent) {
        res.status(known?.status ?? 500).json(body);
        return;
      }
      await write(res, `event: error\ndata: ${JSON.stringify(body)}\n\n`);
    } finally {
      clearInterval(heartbeat);
      controller.abort();
      await iterator.return?.(undefined).catch(() => undefined);
      if (res.headersSent && !res.writableEnded) res.end();
    }
  };
}
