// The hot path in front of express (issue #11): the calls the procedure lane serves — GET queries
// and JSON-body REST mutations, what a front end and a REST client send most (procedure-lane.ts) —
// are answered without express's per-request router and request/response decoration, which
// measured here at ~95 µs of CPU per request on its own (more than a bare node:http answer and the
// whole procedure call together). Every other request goes
// to the express app as before. What a response carries stays the same: the request id, helmet's
// security headers (computed once by helmet itself), CORS from the cors package, the request log
// line, the metrics, and req.ip resolved through the same trusted proxies as express.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@woopdi/core';
import cors, { type CorsOptions } from 'cors';
import helmet from 'helmet';
import proxyaddr from 'proxy-addr';
import { recordHttpMetrics } from './http-metrics.js';
import type { ProcedureLane } from './procedure-lane.js';
import { createRequestLogger, requestId } from './request-log.js';

type Header = [name: string, value: string];

/** Collects what a connect-style middleware sets, instead of writing it to a response. */
function headerSink(into: Header[]) {
  const find = (name: string) => into.findIndex(([k]) => k.toLowerCase() === name.toLowerCase());
  return {
    statusCode: 200,
    setHeader(name: string, value: string | number | readonly string[]) {
      const i = find(name);
      const entry: Header = [name, Array.isArray(value) ? value.join(', ') : String(value)];
      if (i === -1) into.push(entry);
      else into[i] = entry;
    },
    getHeader: (name: string) => into[find(name)]?.[1],
    removeHeader(name: string) {
      const i = find(name);
      if (i !== -1) into.splice(i, 1);
    },
    end() {},
  };
}

/**
 * helmet's headers for a GET; they depend on the request only through whether it came over TLS
 * (CSP `upgrade-insecure-requests`, see app.ts securityMiddleware), so both sets are computed once.
 */
function securityHeaders(upgrade: boolean): Header[] {
  const headers: Header[] = [];
  helmet(helmetOptions(upgrade))(
    { method: 'GET', headers: {}, url: '/' } as never,
    headerSink(headers) as never,
    () => {},
  );
  return headers;
}

/** helmet's defaults, with CSP `upgrade-insecure-requests` only when asked for. */
export const helmetOptions = (upgrade: boolean) => ({
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: upgrade ? [] : null } },
});

/** Whether the client reached us over TLS: directly, or through a trusted proxy saying so. */
export function cameOverTls(req: IncomingMessage, trusted: (address: string) => boolean): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https' && trusted(req.socket.remoteAddress ?? '');
}

export interface HotPathOptions {
  lane: ProcedureLane;
  logger: Logger;
  cors: CorsOptions;
  /** express's `trust proxy` setting, for req.ip. */
  trustProxy: string;
  /** API_HOST is https: every answer asks browsers to upgrade insecure requests. */
  alwaysUpgrade: boolean;
}

/**
 * The cors package's headers for a GET, per request Origin: they depend on nothing else (the
 * allowed origins are fixed at start), so each distinct Origin is answered by cors once. Bounded:
 * the Origin header is the caller's to choose.
 */
function corsHeadersFor(options: CorsOptions) {
  const corsFor = cors(options);
  const known = new Map<string, Header[]>();
  const noop = () => {};
  return (origin: string | undefined): Header[] => {
    const key = origin ?? '';
    let headers = known.get(key);
    if (!headers) {
      headers = [];
      corsFor(
        { method: 'GET', headers: origin === undefined ? {} : { origin } } as never,
        headerSink(headers) as never,
        noop,
      );
      if (known.size >= 256) known.clear();
      known.set(key, headers);
    }
    return headers;
  };
}

const flatten = (headers: Header[]) => headers.flatMap(([name, value]) => [name, value]);

/** Returns true when it took the request; false leaves it to express. */
export function createHotPath(
  options: HotPathOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { lane } = options;
  const json = ['content-type', 'application/json'];
  const secure = [...json, ...flatten(securityHeaders(true))];
  const plain = options.alwaysUpgrade ? secure : [...json, ...flatten(securityHeaders(false))];
  const corsFor = corsHeadersFor(options.cors);
  const trust = proxyaddr.compile(options.trustProxy.split(',').map((s) => s.trim()));
  const startLog = createRequestLogger(options.logger);
  const noop = () => {};

  return (req, res) => {
    const run = lane.match(req);
    if (!run) return false;
    const id = requestId(req);
    const security = options.alwaysUpgrade || cameOverTls(req, (a) => trust(a, 0)) ? secure : plain;
    const origin = req.headers.origin;
    const allowed = corsFor(Array.isArray(origin) ? origin[0] : origin);
    (req as IncomingMessage & { ip?: string }).ip = proxyaddr(req, trust);
    startLog(req, res, id);
    recordHttpMetrics(req as never, res as never, noop);
    run((status, body, extra) => {
      const flat = security.slice();
      for (const [name, value] of allowed) flat.push(name, value);
      flat.push('x-request-id', id);
      if (extra) for (const name in extra) if (extra[name] !== undefined) flat.push(name, extra[name]!);
      const text = JSON.stringify(body);
      flat.push('content-length', String(Buffer.byteLength(text)));
      res.writeHead(status, flat);
      res.end(text);
    }).catch((error: unknown) => {
      options.logger.error({ err: error, reqId: id }, 'unhandled error');
      if (res.headersSent) return void res.destroy();
      const text = JSON.stringify({
        code: 'INTERNAL_SERVER_ERROR',
        message: 'Something went wrong on our side. It has been logged.',
      });
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    return true;
  };
}
