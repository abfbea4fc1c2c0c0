// The procedure lane: the calls a front end and a REST client send most, answered by calling the
// procedure directly — GET calls of query procedures (REST `GET /api/...` and tRPC `GET /trpc/...`,
// single or batched) and mutations with a JSON body (REST `POST`/`PUT`/`PATCH /api/...`, tRPC
// `POST /trpc/...`, single or batched). It is the adapters' own contract (same gates, validation,
// error shapes, statuses and headers; for a body, express's limit, depth guard and parsing with the
// same answers), without their per-call machinery: the tRPC adapter builds a fetch Request/Response
// per call, the REST bridge a caller proxy, a URL, an AbortController and a schema coercion pass, and
// express a router walk and a body-parser pipeline. Profiled in issues #11 and #12: those layers and
// their garbage were most of the hot path, and of a task start's time in the api. Anything else
// (DELETE, streamed tRPC batches, a tRPC body not declared application/json, subscriptions, unknown
// paths, unparsable query input, a body that is compressed, chunked, not UTF-8 or over the limit,
// routes express owns) goes on to the general adapters untouched.
import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { type AnyProcedure, type AnyRouter, TRPCError } from '@trpc/server';
import {
  getErrorShape,
  getHTTPStatusCode,
  getTRPCErrorFromUnknown,
} from '@trpc/server/unstable-core-do-not-import';
import type { RequestHandler } from 'express';
import {
  coerceSchema,
  forEachOpenApiProcedure,
  getErrorFromUnknown,
  getInputOutputParsers,
  getPathRegExp,
  instanceofZodTypeLikeVoid,
  instanceofZodTypeObject,
  instanceofZodTypeOptional,
  normalizePath,
  TRPC_ERROR_CODE_HTTP_STATUS,
  unwrapZodType,
} from 'trpc-to-openapi';
import { jsonDepthExceeds, tooDeepMessage } from './json-depth.js';

type Ctx = object;
type CallType = 'query' | 'mutation';
interface LaneOptions<C extends Ctx> {
  router: AnyRouter;
  createContext(opts: { req: IncomingMessage; info: { connectionParams: null } }): C | Promise<C>;
  onError(opts: {
    error: TRPCError;
    path?: string;
    type: CallType;
    input: unknown;
    ctx?: C;
    req: IncomingMessage;
  }): void;
  /** Longer tRPC batches are left to the adapter, which refuses them with 400. */
  maxBatchSize: number;
  /** Extra headers for a response that carries these errors (Retry-After). */
  errorHeaders(errors: TRPCError[]): Record<string, string | undefined> | undefined;
  /** REST bodies: the byte limit (express.json's `limit`) and JSON_MAX_DEPTH (the depth guard). */
  body: { maxBytes: number; maxDepth: number };
  /** Routes under /api that express serves itself ahead of the bridge (the multipart upload). */
  ownedByExpress?: (method: string, path: string) => boolean;
}

interface RestRoute {
  pattern: RegExp;
  path: string;
  procedure: AnyProcedure;
  type: CallType | 'subscription';
  hasInput: boolean;
  /** Query keys whose schema is an array: a single value is wrapped, as the bridge does. */
  arrayKeys: string[];
}

const isZodArray = (schema: unknown) =>
  (schema as { _zod?: { def?: { type?: string } } })?._zod?.def?.type === 'array';

/** The methods whose REST input is the JSON body (and the path); the bridge reads DELETE's from the query. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Every REST route by method, in the bridge's order (its first matching pattern wins); the lane
 * serves a route only when it is a query under GET or a mutation under a body method.
 */
function restRoutes(router: AnyRouter): Map<string, RestRoute[]> {
  const routes = new Map<string, RestRoute[]>();
  forEachOpenApiProcedure(router._def.procedures, ({ path, procedure, meta }) => {
    const proc = procedure as unknown as AnyProcedure;
    const type = proc._def.type as RestRoute['type'];
    if (type === 'subscription') return;
    const method = meta.openapi.method;
    const { inputParser } = getInputOutputParsers(procedure);
    const unwrapped = unwrapZodType(inputParser as never, true);
    const arrayKeys: string[] = [];
    if (instanceofZodTypeObject(unwrapped)) {
      // The bridge coerces strings to the schema's types (in place, so once is enough) on every call.
      coerceSchema(unwrapped);
      for (const [key, shape] of Object.entries(unwrapped.shape)) {
        const inner = instanceofZodTypeOptional(shape as never)
          ? (shape as unknown as { unwrap(): unknown }).unwrap()
          : shape;
        if (isZodArray(shape) || isZodArray(inner)) arrayKeys.push(key);
      }
    }
    const list = routes.get(method) ?? [];
    routes.set(method, list);
    list.push({
      pattern: getPathRegExp(normalizePath(meta.openapi.path)),
      path,
      procedure: proc,
      type,
      hasInput: !instanceofZodTypeLikeVoid(unwrapped),
      arrayKeys,
    });
  });
  return routes;
}

/** express.json's answers to a body it refuses (app.ts's error handler), given by the lane alike. */
const NOT_JSON = { code: 'BAD_REQUEST', message: 'The request body is not valid JSON.' };

class BodyRefused extends Error {
  readonly body: { code: string; message: string };
  constructor(body: { code: string; message: string }) {
    super(body.message);
    this.body = body;
  }
}

/** JSON's insignificant whitespace: a body of only this is not a document (body-parser's strict mode). */
const WHITESPACE = /^[ \t\n\r]*/;

/**
 * A body the lane reads itself: identity-encoded, framed by a Content-Length within the limit, and
 * UTF-8 (or no charset). Anything else is body-parser's to decode or refuse.
 */
function readableBody(req: IncomingMessage, maxBytes: number): number | undefined {
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined) return undefined;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  const type = headers['content-type'];
  if (type !== undefined) {
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type)?.[1];
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') return undefined;
  }
  const length = headers['content-length'];
  if (length === undefined) return 0; // no body at all
  if (!/^\d+$/.test(length)) return undefined;
  const bytes = Number(length);
  return bytes <= maxBytes ? bytes : undefined;
}

/**
 * The body as text, refused past JSON_MAX_DEPTH as the depth guard does (on the raw bytes, before
 * anything parses them); undefined when the request has no body at all.
 */
async function readText(req: IncomingMessage, maxDepth: number): Promise<string | undefined> {
  if (req.headers['content-length'] === undefined) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (jsonDepthExceeds(raw, maxDepth))
    throw new BodyRefused({ code: 'BAD_REQUEST', message: tooDeepMessage(maxDepth) });
  const text = raw.toString('utf8');
  // body-parser decodes with iconv-lite, which drops a UTF-8 byte order mark (for json and text alike).
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The body as express.json parses it: undefined without one, {} when empty, strict JSON otherwise. */
async function readJson(
  req: IncomingMessage,
  maxDepth: number,
): Promise<Record<string, unknown> | unknown[] | undefined> {
  const text = await readText(req, maxDepth);
  if (text === undefined) return undefined;
  if (text.length === 0) return {};
  const first = text[WHITESPACE.exec(text)![0].length];
  if (first !== '{' && first !== '[') throw new BodyRefused(NOT_JSON);
  try {
    return JSON.parse(text) as Record<string, unknown> | unknown[];
  } catch {
    throw new BodyRefused(NOT_JSON);
  }
}

/** tRPC's JSON content type handler takes exactly this media type (any case); others are its to refuse. */
const isJsonMediaType = (type: string | undefined) =>
  type?.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';

/** Writes one JSON answer; the host decides how (headers, logging). */
export type Respond = (status: number, body: unknown, headers?: Record<string, string | undefined>) => void;

/** A call the lane takes: run it to answer. */
export type LaneCall = (respond: Respond) => Promise<void>;

export interface ProcedureLane {
  /** The call for this request when the lane serves it, decided synchronously; else undefined. */
  match(req: IncomingMessage): LaneCall | undefined;
}

export function createProcedureLane<C extends Ctx>(options: LaneOptions<C>): ProcedureLane {
  const { router, createContext, onError, errorHeaders, body: bodyLimits } = options;
  const config = router._def._config;
  const procedures = router._def.procedures as Record<string, AnyProcedure | undefined>;
  const routes = restRoutes(router);

  const call = (
    procedure: AnyProcedure,
    path: string,
    ctx: C,
    getRawInput: () => Promise<unknown>,
    type: CallType,
    batchIndex = 0,
  ) => procedure({ ctx, path, type, getRawInput, signal: undefined, batchIndex });

  function rest(
    req: IncomingMessage,
    method: string,
    pathname: string,
    search: string,
  ): LaneCall | undefined {
    const path = normalizePath(pathname);
    let route: RestRoute | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of routes.get(method) ?? []) {
      match = r.pattern.exec(path);
      if (match) {
        route = r;
        break;
      }
    }
    if (!route) return undefined;
    const { procedure, path: procedurePath, type } = route;
    if (method === 'GET') {
      if (type !== 'query') return undefined;
      let input: Record<string, unknown> | undefined;
      if (route.hasInput) {
        // express 5's default ("simple") query parser is node's querystring; the bridge then keeps the
        // first of repeated keys unless the schema wants an array.
        input = {};
        const query = search ? parseQuery(search) : {};
        for (const key in query) {
          const value = query[key];
          if (!value) continue;
          const kept = Array.isArray(value) && value.length === 1 ? value[0] : value;
          // A plain store of `?__proto__=` would set the input's prototype; the bridge's copy (a
          // spread) makes it a key like any other, and so does this.
          if (key === '__proto__')
            Object.defineProperty(input, key, {
              value: kept,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          else input[key] = kept;
        }
        for (const key of route.arrayKeys)
          if (input[key] !== undefined && !Array.isArray(input[key])) input[key] = [input[key]];
        Object.assign(input, match!.groups);
      }
      return (respond) => answer(respond, req, procedure, procedurePath, 'query', () => input);
    }
    if (type !== 'mutation' || readableBody(req, bodyLimits.maxBytes) === undefined) return undefined;
    if (options.ownedByExpress?.(method, pathname)) return undefined;
    const groups = match!.groups;
    return (respond) =>
      answer(respond, req, procedure, procedurePath, 'mutation', async () => {
        // Read (and refused when malformed) even for a procedure without input, as express.json does.
        const body = await readJson(req, bodyLimits.maxDepth);
        if (!route.hasInput) return undefined;
        // The path's ids over the body's keys. One spread and plain stores rather than
        // `{ ...body, ...groups }`, for which V8 makes a hidden class per call (api's context.ts);
        // the group names are the route table's own, so a store can never be `__proto__`.
        const input: Record<string, unknown> = { ...(body as object) };
        for (const key in groups) input[key] = groups[key];
        return input;
      });
  }

  /** Runs one REST call and answers it as the bridge does, success or error. */
  async function answer(
    respond: Respond,
    req: IncomingMessage,
    procedure: AnyProcedure,
    procedurePath: string,
    type: CallType,
    readInput: () => unknown,
  ): Promise<void> {
    let ctx: C | undefined;
    let input: unknown;
    try {
      input = await readInput();
    } catch (error) {
      // Otherwise the client went away mid-body: nobody is left to answer (the log line says 499).
      if (error instanceof BodyRefused) respond(400, error.body);
      else req.destroy();
      return;
    }
    try {
      ctx = await createContext({ req, info: { connectionParams: null } });
      respond(200, await call(procedure, procedurePath, ctx, async () => input, type));
    } catch (cause) {
      const error = getErrorFromUnknown(cause) as TRPCError;
      onError({ error, path: procedurePath, type, input, ctx, req });
      const shape = getErrorShape({ config, error, type, path: procedurePath, input, ctx });
      const invalidInput =
        error.code === 'BAD_REQUEST' && error.cause instanceof Error && error.cause.name === 'ZodError';
      respond(
        TRPC_ERROR_CODE_HTTP_STATUS[error.code] ?? 500,
        {
          ...shape,
          message: invalidInput
            ? 'Input validation failed'
            : (shape?.message ?? error.message ?? 'An error occurred'),
          code: error.code,
          issues: invalidInput ? (error.cause as { issues?: unknown }).issues : undefined,
        },
        errorHeaders([error]),
      );
    }
  }

  function trpc(
    req: IncomingMessage,
    method: string,
    pathname: string,
    search: string,
  ): LaneCall | undefined {
    // Streamed batches (httpBatchStreamLink) are the adapter's: tRPC takes either header as asking for one.
    const { accept } = req.headers;
    if (req.headers['trpc-accept'] === 'application/jsonl') return undefined;
    if (accept?.split(',').some((t) => t.trim() === 'application/jsonl')) return undefined;
    const type: CallType = method === 'GET' ? 'query' : 'mutation';
    if (type === 'mutation') {
      if (method !== 'POST' || !isJsonMediaType(req.headers['content-type'])) return undefined;
      if (readableBody(req, bodyLimits.maxBytes) === undefined) return undefined;
    }
    const params = new URLSearchParams(search);
    const batch = params.get('batch') === '1';
    let paths: string[];
    try {
      paths = decodeURIComponent(pathname).split(',');
    } catch {
      return undefined;
    }
    if ((!batch && paths.length > 1) || paths.length > options.maxBatchSize) return undefined;
    const calls: Array<{ path: string; procedure: AnyProcedure }> = [];
    for (const path of paths) {
      const procedure = Object.hasOwn(procedures, path) ? procedures[path] : undefined;
      // A missing procedure, or one of the other type (405 with Allow): the adapter's answers.
      if (procedure?._def.type !== type) return undefined;
      calls.push({ path, procedure });
    }
    /** tRPC's inputs per call from the parsed `input` (GET) or body (POST). */
    const split = (parsed: unknown): unknown[] => {
      if (!batch || parsed === undefined) return calls.map((_, i) => (i === 0 ? parsed : undefined));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: '"input" needs to be an object when doing a batch call',
        });
      return calls.map((_, i) => (parsed as Record<string, unknown>)[i]);
    };
    if (type === 'query') {
      let inputs: unknown[];
      try {
        const raw = params.get('input');
        inputs = split(raw === null ? undefined : JSON.parse(raw));
      } catch {
        return undefined; // the adapter answers the parse error
      }
      return (respond) => runBatch(respond, req, calls, type, batch, inputs);
    }
    return async (respond) => {
      let text: string | undefined;
      try {
        text = await readText(req, bodyLimits.maxDepth);
      } catch (error) {
        if (error instanceof BodyRefused) respond(400, error.body);
        else req.destroy(); // the client went away mid-body
        return;
      }
      // As tRPC's JSON handler: an empty body is no input; a body that does not parse, or a batch
      // that is not an object, fails each call with BAD_REQUEST when its input is read (after the
      // gates that come before the input: a signed-out caller still hears 401).
      let inputs: unknown[];
      try {
        inputs = split(text ? JSON.parse(text) : undefined);
      } catch (cause) {
        const error =
          cause instanceof TRPCError
            ? cause
            : new TRPCError({ code: 'BAD_REQUEST', message: (cause as Error).message, cause });
        return runBatch(respond, req, calls, type, batch, undefined, error);
      }
      return runBatch(respond, req, calls, type, batch, inputs);
    };
  }

  /** Runs tRPC calls together, as the adapter does, and answers its body, status and headers. */
  async function runBatch(
    respond: Respond,
    req: IncomingMessage,
    calls: Array<{ path: string; procedure: AnyProcedure }>,
    type: CallType,
    batch: boolean,
    inputs: unknown[] | undefined,
    inputError?: TRPCError,
  ): Promise<void> {
    let ctx: C | undefined;
    let ctxError: TRPCError | undefined;
    try {
      ctx = await createContext({ req, info: { connectionParams: null } });
    } catch (cause) {
      ctxError = getTRPCErrorFromUnknown(cause);
    }
    const errors: TRPCError[] = [];
    const results = await Promise.all(
      calls.map(async ({ path, procedure }, i) => {
        const input = inputs?.[i];
        try {
          if (ctxError) throw ctxError;
          const getRawInput = async () => {
            if (inputError) throw inputError;
            return input;
          };
          return { result: { data: await call(procedure, path, ctx!, getRawInput, type, i) } };
        } catch (cause) {
          const error = getTRPCErrorFromUnknown(cause);
          errors.push(error);
          onError({ error, path, type, input, ctx, req });
          return { error: getErrorShape({ config, error, type, path, input, ctx }) };
        }
      }),
    );
    const body = batch ? results : results[0]!;
    respond(getHTTPStatusCode(body as never, errors), body, {
      vary: 'trpc-accept, accept',
      ...(errors.length ? errorHeaders(errors) : undefined),
    });
  }

  return {
    match(req) {
      const method = req.method ?? 'GET';
      if (method !== 'GET' && !BODY_METHODS.has(method)) return undefined;
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q === -1 ? url : url.slice(0, q);
      const search = q === -1 ? '' : url.slice(q + 1);
      if (pathname.startsWith('/api/')) return rest(req, method, pathname.slice(4), search);
      if (pathname.startsWith('/trpc/')) return trpc(req, method, pathname.slice(6), search);
      return undefined;
    },
  };
}

/** The lane as an express middleware (where the hot path in front of express did not take the call). */
export function procedureLaneMiddleware(lane: ProcedureLane): RequestHandler {
  return (req, res, next) => {
    const run = lane.match(req);
    if (!run) return next();
    run((status, body, headers) => {
      res.statusCode = status;
      res.setHeader('Content-Type', 'application/json');
      if (headers)
        for (const [key, value] of Object.entries(headers))
          if (value !== undefined) res.setHeader(key, value);
      res.end(JSON.stringify(body));
    }).catch(next);
  };
}
