// One log line per request (request id, method, redacted url, status, duration, and the user and
// organization the gates resolved), written by pino without pino-http's per-request child logger
// and serializers: on the hot path those cost more than the rest of the request (issue #11).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@woopdi/core';
import type { Express, RequestHandler } from 'express';

declare module 'node:http' {
  interface IncomingMessage {
    /** This request's logger (carries its request id); made on first use. */
    log: Logger;
  }
}

/** Filled in by the gates (api's createContext shares the object): who the request acted as. */
export interface LogCarrier {
  id?: string;
  woopdiLog?: { userId?: string; organizationId?: string; apiKeyId?: string };
}

/**
 * Query parameters that carry a credential: SSE and websocket clients send their access token in
 * the query string, signed storage URLs their signature (local `sig`, GCS/S3 `X-Goog-*` /
 * `X-Amz-*`), emailed links their one-time token, OAuth callbacks their code. Matched whatever
 * the letter case; never logged.
 */
const CREDENTIAL_PARAMS = new Set(
  [
    'token',
    'access_token',
    'refresh_token',
    'refreshToken',
    'id_token',
    'connectionParams',
    'sig',
    'signature',
    'X-Goog-Signature',
    'X-Goog-Credential',
    'X-Amz-Signature',
    'X-Amz-Credential',
    'X-Amz-Security-Token',
    'api_key',
    'apikey',
    'key',
    'password',
    'secret',
    'client_secret',
    'code',
  ].map((name) => name.toLowerCase()),
);

const paramName = (pair: string) => {
  const name = pair.split('=', 1)[0]!;
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).trim().toLowerCase();
  } catch {
    return name.toLowerCase();
  }
};

/** The url with every credential-bearing query parameter's value replaced by [redacted]. */
export function redactUrl(url: string | undefined): string | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (q === -1) return url;
  const hash = url!.indexOf('#', q);
  const query = url!.slice(q + 1, hash === -1 ? undefined : hash);
  const redacted = query
    .split('&')
    .map((pair) =>
      pair.includes('=') && CREDENTIAL_PARAMS.has(paramName(pair))
        ? `${pair.split('=', 1)[0]}=[redacted]`
        : pair,
    )
    .join('&');
  return `${url!.slice(0, q + 1)}${redacted}`;
}

const REQUEST_ID = /^[\w-]{1,64}$/;
const quiet = new Set(['/healthz', '/readyz']);

/** A caller's own request id when it is a sane token, else a new one (echoed as x-request-id). */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export type RequestLogger = (
  req: IncomingMessage & { originalUrl?: string },
  res: ServerResponse,
  id: string,
) => void;

/** Starts a request's log line (written when its response finishes or the client goes away). */
export function createRequestLogger(logger: Logger): RequestLogger {
  // The access line is built from known fields (the url already redacted), so it skips the root
  // logger's path redaction, which would otherwise run on every request.
  const access = logger.child({}, { redact: { paths: [] } });
  return (req, res, id) => {
    const carrier = req as unknown as LogCarrier;
    carrier.id = id;
    carrier.woopdiLog = {};
    if (quiet.has(req.url ?? '')) return;
    const started = performance.now();
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      const status = res.writableFinished ? res.statusCode : 499; // 499: the client went away first
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (!access.isLevelEnabled(level)) return;
      access[level](
        {
          req: { id, method: req.method, url: redactUrl(req.originalUrl ?? req.url) },
          res: { statusCode: status },
          responseTime: Math.round(performance.now() - started),
          ...carrier.woopdiLog,
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    };
    res.on('finish', done);
    res.on('close', done);
  };
}

export function requestLog(app: Express, logger: Logger): RequestHandler {
  // `req.log` for the few handlers that log an error: a child logger made only when asked for.
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: IncomingMessage & LogCarrier & { _log?: Logger }) {
      this._log ??= logger.child({ reqId: this.id });
      return this._log;
    },
  });
  const start = createRequestLogger(logger);
  return (req, res, next) => {
    const id = requestId(req);
    res.setHeader('x-request-id', id);
    start(req, res, id);
    next();
  };
}
