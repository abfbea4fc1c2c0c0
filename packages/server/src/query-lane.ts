// The query lane: GET calls of query procedures — REST (`GET /api/...`) and tRPC (`GET /trpc/...`,
// single or batched) — answered by calling the procedure directly. It is the adapters' own
// contract (same gates, validation, error shapes, statuses and headers), without their per-call
// machinery: the tRPC adapter builds a fetch Request/Response per call, the REST bridge a caller
// proxy, a URL, an AbortController and a schema coercion pass. Profiled in issue #11: those layers
// and their garbage were most of the hot path. Anything else (mutations, streams, subscriptions,
// unknown paths, unparsable input) goes on to the general adapters untouched.
import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { AnyProcedure, AnyRouter, TRPCError } from '@trpc/server';
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

type Ctx = object;
interface LaneOptions<C extends Ctx> {
  router: AnyRouter;
  createContext(opts: { req: IncomingMessage; info: { connectionParams: null } }): C | Promise<C>;
  onError(opts: {
    error: TRPCError;
    path?: string;
    type: 'query';
    input: unknown;
    ctx?: C;
    req: IncomingMessage;
  }): void;
  /** Longer tRPC batches are left to the adapter, which refuses them with 400. */
  maxBatchSize: number;
  /** Extra headers for a response that carries these errors (Retry-After). */
  errorHeaders(errors: TRPCError[]): Record<string, string | undefined> | undefined;
}

interface RestRoute {
  pattern: RegExp;
  path: string;
  procedure: AnyProcedure;
  hasInput: boolean;
  /** Query keys whose schema is an array: a single value is wrapped, as the bridge does. */
  arrayKeys: string[];
}

const isZodArray = (schema: unknown) =>
  (schema as { _zod?: { def?: { type?: string } } })?._zod?.def?.type === 'array';

function restRoutes(router: AnyRouter): RestRoute[] {
  const routes: RestRoute[] = [];
  forEachOpenApiProcedure(router._def.procedures, ({ path, procedure, meta }) => {
    const proc = procedure as unknown as AnyProcedure;
    if (proc._def.type !== 'query' || meta.openapi.method !== 'GET') return;
    const { inputParser } = getInputOutputParsers(procedure);
    const unwrapped = unwrapZodType(inputParser as never, true);
    const arrayKeys: string[] = [];
    if (instanceofZodTypeObject(unwrapped)) {
      // The bridge coerces query strings to the schema's types (in place, once is enough).
      coerceSchema(unwrapped);
      for (const [key, shape] of Object.entries(unwrapped.shape)) {
        const inner = instanceofZodTypeOptional(shape as never)
          ? (shape as unknown as { unwrap(): unknown }).unwrap()
          : shape;
        if (isZodArray(shape) || isZodArray(inner)) arrayKeys.push(key);
      }
    }
    routes.push({
      pattern: getPathRegExp(normalizePath(meta.openapi.path)),
      path,
      procedure: proc,
      hasInput: !instanceofZodTypeLikeVoid(unwrapped),
      arrayKeys,
    });
  });
  return routes;
}

/** Writes one JSON answer; the host decides how (headers, logging). */
export type Respond = (status: number, body: unknown, headers?: Record<string, string | undefined>) => void;

/** A call the lane takes: run it to answer. */
export type LaneCall = (respond: Respond) => Promise<void>;

export interface QueryLane {
  /** The call for this request when the lane serves it, decided synchronously; else undefined. */
  match(req: IncomingMessage): LaneCall | undefined;
}

export function createQueryLane<C extends Ctx>(options: LaneOptions<C>): QueryLane {
  const { router, createContext, onError, errorHeaders } = options;
  const config = router._def._config;
  const procedures = router._def.procedures as Record<string, AnyProcedure | undefined>;
  const routes = restRoutes(router);

  const call = (procedure: AnyProcedure, path: string, ctx: C, input: unknown) =>
    procedure({ ctx, path, type: 'query', getRawInput: async () => input, signal: undefined, batchIndex: 0 });

  function rest(req: IncomingMessage, pathname: string, search: string): LaneCall | undefined {
    const path = normalizePath(pathname);
    let route: RestRoute | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of routes) {
      match = r.pattern.exec(path);
      if (match) {
        route = r;
        break;
      }
    }
    if (!route) return undefined;
    const { procedure, path: procedurePath } = route;
    let input: Record<string, unknown> | undefined;
    if (route.hasInput) {
      // express 5's default ("simple") query parser is node's querystring; the bridge then keeps the
      // first of repeated keys unless the schema wants an array.
      input = {};
      const query = search ? parseQuery(search) : {};
      for (const key in query) {
        const value = query[key];
        if (value) input[key] = Array.isArray(value) && value.length === 1 ? value[0] : value;
      }
      for (const key of route.arrayKeys)
        if (input[key] !== undefined && !Array.isArray(input[key])) input[key] = [input[key]];
      Object.assign(input, match!.groups);
    }
    return async (respond) => {
      let ctx: C | undefined;
      try {
        ctx = await createContext({ req, info: { connectionParams: null } });
        respond(200, await call(procedure, procedurePath, ctx, input));
      } catch (cause) {
        const error = getErrorFromUnknown(cause) as TRPCError;
        onError({ error, path: procedurePath, type: 'query', input, ctx, req });
        const shape = getErrorShape({ config, error, type: 'query', path: procedurePath, input, ctx });
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
    };
  }

  function trpc(req: IncomingMessage, pathname: string, search: string): LaneCall | undefined {
    if (req.headers['trpc-accept'] === 'application/jsonl') return undefined; // streamed batches
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
      if (procedure?._def.type !== 'query') return undefined;
      calls.push({ path, procedure });
    }
    let inputs: unknown[];
    try {
      const raw = params.get('input');
      const parsed: unknown = raw === null ? undefined : JSON.parse(raw);
      inputs = batch ? calls.map((_, i) => (parsed as Record<string, unknown> | undefined)?.[i]) : [parsed];
    } catch {
      return undefined; // the adapter answers the parse error
    }
    return async (respond) => {
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
          try {
            if (ctxError) throw ctxError;
            return { result: { data: await call(procedure, path, ctx!, inputs[i]) } };
          } catch (cause) {
            const error = getTRPCErrorFromUnknown(cause);
            errors.push(error);
            onError({ error, path, type: 'query', input: inputs[i], ctx, req });
            return { error: getErrorShape({ config, error, type: 'query', path, input: inputs[i], ctx }) };
          }
        }),
      );
      const body = batch ? results : results[0]!;
      respond(getHTTPStatusCode(body as never, errors), body, {
        vary: 'trpc-accept, accept',
        ...(errors.length ? errorHeaders(errors) : undefined),
      });
    };
  }

  return {
    match(req) {
      if (req.method !== 'GET') return undefined;
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q === -1 ? url : url.slice(0, q);
      const search = q === -1 ? '' : url.slice(q + 1);
      if (pathname.startsWith('/api/')) return rest(req, pathname.slice(4), search);
      if (pathname.startsWith('/trpc/')) return trpc(req, pathname.slice(6), search);
      return undefined;
    },
  };
}

/** The lane as an express middleware (where the hot path in front of express did not take the call). */
export function queryLaneMiddleware(lane: QueryLane): RequestHandler {
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
