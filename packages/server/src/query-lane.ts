// The query lane: GET calls of query procedures — REST (`GET /api/...`) and tRPC (`GET /trpc/...`,
// single or batched) — answered by calling the procedure directly. It is the adapters' own
// contract (same gates, validation, error shapes, statuses and headers), without their per-call
// machinery: the tRPC adapter builds a fetch Request/Response per call, the REST bridge a caller
// proxy, a URL, an AbortController and a schema coercion pass. Profiled in issue #11: those layers
// and their garbage were most of the hot path. Anything else (mutations, streams, subscriptions,
// unknown paths, unparsable input) goes on to the general adapters untouched.
import type { IncomingMessage, ServerResponse } from 'node:http';
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

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string | undefined>,
) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  if (headers)
    for (const [key, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(key, value);
  res.end(JSON.stringify(body));
}

export function queryLane<C extends Ctx>(options: LaneOptions<C>): RequestHandler {
  const { router, createContext, onError, errorHeaders } = options;
  const config = router._def._config;
  const procedures = router._def.procedures as Record<string, AnyProcedure | undefined>;
  const routes = restRoutes(router);

  const call = (procedure: AnyProcedure, path: string, ctx: C, input: unknown) =>
    procedure({ ctx, path, type: 'query', getRawInput: async () => input, signal: undefined, batchIndex: 0 });

  async function rest(
    req: IncomingMessage & { query?: unknown },
    res: ServerResponse,
    pathname: string,
  ): Promise<boolean> {
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
    if (!route) return false;
    let input: Record<string, unknown> | undefined;
    if (route.hasInput) {
      input = {};
      const query = (req.query ?? {}) as Record<string, unknown>;
      for (const key in query) {
        const value = query[key];
        if (value) input[key] = Array.isArray(value) && value.length === 1 ? value[0] : value;
      }
      for (const key of route.arrayKeys)
        if (input[key] !== undefined && !Array.isArray(input[key])) input[key] = [input[key]];
      Object.assign(input, match!.groups);
    }
    let ctx: C | undefined;
    try {
      ctx = await createContext({ req, info: { connectionParams: null } });
      sendJson(res, 200, await call(route.procedure, route.path, ctx, input));
    } catch (cause) {
      const error = getErrorFromUnknown(cause) as TRPCError;
      onError({ error, path: route.path, type: 'query', input, ctx, req });
      const shape = getErrorShape({ config, error, type: 'query', path: route.path, input, ctx });
      const invalidInput =
        error.code === 'BAD_REQUEST' && error.cause instanceof Error && error.cause.name === 'ZodError';
      sendJson(
        res,
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
    return true;
  }

  async function trpc(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    search: URLSearchParams,
  ): Promise<boolean> {
    const accept = req.headers['trpc-accept'];
    if (accept === 'application/jsonl') return false; // streamed batches: the adapter's job
    const batch = search.get('batch') === '1';
    const paths = decodeURIComponent(pathname).split(',');
    if (!batch && paths.length > 1) return false;
    const calls: Array<{ path: string; procedure: AnyProcedure }> = [];
    for (const path of paths) {
      const procedure = Object.hasOwn(procedures, path) ? procedures[path] : undefined;
      if (procedure?._def.type !== 'query') return false;
      calls.push({ path, procedure });
    }
    let inputs: unknown[];
    try {
      const raw = search.get('input');
      const parsed: unknown = raw === null ? undefined : JSON.parse(raw);
      inputs = batch ? calls.map((_, i) => (parsed as Record<string, unknown> | undefined)?.[i]) : [parsed];
    } catch {
      return false; // the adapter answers the parse error
    }
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
    res.setHeader('vary', 'trpc-accept, accept');
    sendJson(
      res,
      getHTTPStatusCode(body as never, errors),
      body,
      errors.length ? errorHeaders(errors) : undefined,
    );
    return true;
  }

  return (req, res, next) => {
    if (req.method !== 'GET') return next();
    const url = req.url;
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    let handled: Promise<boolean> | undefined;
    if (pathname.startsWith('/api/')) handled = rest(req, res, pathname.slice(4));
    else if (pathname.startsWith('/trpc/'))
      handled = trpc(req, res, pathname.slice(6), new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
    if (!handled) return next();
    handled.then(
      (done) => done || next(),
      (error: unknown) => next(error),
    );
  };
}
