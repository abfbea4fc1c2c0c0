// Checks real answers of the server against its own /openapi.json: every status an operation
// answered must be listed for it, and every body must match the listed schema (Ajv, JSON Schema
// 2020-12, which OpenAPI 3.1 schemas are, with formats checked). helpers.call records each answer.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface Exchange {
  method: string;
  /** The URL's pathname, e.g. /api/auth/login or /tasks/{id}/events. */
  pathname: string;
  status: number;
  contentType: string | null;
  /** The answer's headers, lower-cased names. */
  headers: Record<string, string>;
  /** The parsed JSON body; undefined when the body was empty or not JSON. */
  body: unknown;
  text: string;
  /** Where the request body was JSON: what was sent (checked against the request schema on 2xx). */
  sent?: unknown;
}

/** Every answer helpers.call received in this test file. */
export const exchanges: Exchange[] = [];

interface MediaType {
  schema?: unknown;
}
interface Operation {
  operationId?: string;
  responses?: Record<
    string,
    { content?: Record<string, MediaType>; headers?: Record<string, { required?: boolean }> }
  >;
  requestBody?: { content?: Record<string, MediaType> };
}
type PathItem = Record<string, unknown> & { servers?: { url: string }[] };
export interface OpenApiDocument {
  servers?: { url: string }[];
  paths: Record<string, PathItem>;
  components?: Record<string, unknown>;
}

const DOC_ID = 'https://woopdi.invalid/openapi.json';
/** A JSON pointer as a URI fragment (templates hold braces, which a fragment percent-encodes). */
const pointer = (...parts: string[]) =>
  `#/${parts.map((p) => encodeURIComponent(p.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')}`;

interface Route {
  template: string;
  pattern: RegExp;
  params: number;
}

/** Validates recorded answers against one document. */
export function conformanceChecker(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (ref: string) => {
    let fn = compiled.get(ref);
    if (!fn) {
      fn = ajv.compile({ $ref: `${DOC_ID}${ref}` });
      compiled.set(ref, fn);
    }
    return fn;
  };

  // Each template under the URL prefix of its server: the document's (/api) or the path's own (/).
  const prefixOf = (item: PathItem) => {
    const url = (item.servers ?? doc.servers)?.[0]?.url ?? '/';
    return new URL(url, 'http://server.invalid').pathname.replace(/\/$/, '');
  };
  const routes: Route[] = Object.entries(doc.paths)
    .map(([template, item]) => {
      const full = `${prefixOf(item)}${template}`;
      const source = full.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
      return { template, pattern: new RegExp(`^${source}$`), params: (template.match(/\{/g) ?? []).length };
    })
    // A literal segment wins over a parameter: /invitations/details before /invitations/{invitationId}.
    .sort((a, b) => a.params - b.params);

  function operationOf(method: string, pathname: string): { template: string; op: Operation } | undefined {
    for (const route of routes) {
      if (!route.pattern.test(pathname)) continue;
      const op = doc.paths[route.template]?.[method.toLowerCase()] as Operation | undefined;
      if (op) return { template: route.template, op };
    }
    return undefined;
  }

  const errorsOf = (fn: ValidateFunction) =>
    (fn.errors ?? [])
      .slice(0, 3)
      .map((e) => `${e.instancePath || '/'} ${e.message}`)
      .join('; ');

  /** The problems of one answer (empty when the document describes it), and its operation's id. */
  function check(x: Exchange): { operationId?: string; problems: string[] } {
    const found = operationOf(x.method, x.pathname);
    // Not an operation of the document (an unknown route a test probes): nothing to check.
    if (!found) return { problems: [] };
    const { template, op } = found;
    const where = `${x.method} ${x.pathname} → ${x.status}`;
    const problems: string[] = [];
    const method = x.method.toLowerCase();
    const response = op.responses?.[String(x.status)] ?? op.responses?.default;
    if (!response) {
      problems.push(`${where}: status not documented (${x.text.slice(0, 160)})`);
      return { operationId: op.operationId, problems };
    }
    const status = op.responses?.[String(x.status)] ? String(x.status) : 'default';
    for (const [name, header] of Object.entries(response.headers ?? {}))
      if (header.required && x.headers[name.toLowerCase()] === undefined)
        problems.push(`${where}: no ${name} header, which the document says is always sent`);
    const type = x.contentType?.split(';')[0]?.trim();
    const content = response.content;
    if (!content || Object.keys(content).length === 0) {
      if (x.text.length > 0) problems.push(`${where}: a body, where the document lists none`);
    } else if (!type || !content[type]) {
      problems.push(`${where}: content-type ${type ?? '(none)'}, documented: ${Object.keys(content)}`);
    } else if (type === 'application/json') {
      const fn = validator(
        pointer('paths', template, method, 'responses', status, 'content', type, 'schema'),
      );
      if (!fn(x.body))
        problems.push(`${where}: body does not match: ${errorsOf(fn)} — ${x.text.slice(0, 200)}`);
    }
    // What a request that succeeded sent must be what the document accepts.
    const sent = op.requestBody?.content?.['application/json'];
    if (x.status < 300 && x.sent !== undefined && sent?.schema) {
      const fn = validator(
        pointer('paths', template, method, 'requestBody', 'content', 'application/json', 'schema'),
      );
      if (!fn(x.sent))
        problems.push(`${where}: accepted a request body the document refuses: ${errorsOf(fn)}`);
    }
    return { operationId: op.operationId, problems };
  }

  return {
    check,
    operationOf,
    /** A validator for a schema of the document, by JSON pointer (e.g. #/components/schemas/TaskEvent). */
    validator,
    /** Every problem of these answers, and the operations they exercised (by id, with their statuses). */
    checkAll(list: readonly Exchange[]) {
      const problems: string[] = [];
      const seen = new Map<string, Set<number>>();
      for (const x of list) {
        const result = check(x);
        problems.push(...result.problems);
        if (result.operationId) {
          const statuses = seen.get(result.operationId) ?? new Set<number>();
          statuses.add(x.status);
          seen.set(result.operationId, statuses);
        }
      }
      return { problems: [...new Set(problems)], seen };
    },
  };
}

/** Fetches the server's document and checks every answer recorded so far in this file. */
export async function undocumentedAnswers(serverUrl: string) {
  const doc = (await (await fetch(`${serverUrl}/openapi.json`)).json()) as OpenApiDocument;
  return conformanceChecker(doc).checkAll(exchanges);
}
