import { generateOpenApiDocument } from 'trpc-to-openapi';
import { addTaskDocumentation } from './openapi-tasks.js';
import { addWebhooks } from './openapi-webhooks.js';
import { appRouter } from './root.js';
import { assetUploadPaths } from './routers/assets.js';
import type { Access, WoopdiMeta } from './trpc.js';

const description = `Woopdi's REST API: every tRPC procedure, as plain HTTP + JSON.

Authenticate with \`Authorization: Bearer <accessToken>\` from \`POST /api/auth/login\`. Every error is
the one \`Error\` schema (\`{ message, code, issues?, data? }\`) with the HTTP status of its code; each
operation lists the statuses it can answer; a procedure's 429 and 503 carry \`Retry-After\`. The task
streams also take the token as \`?token=\` (browser EventSource and WebSocket cannot set headers).

**Live task events.** A task started with \`POST /api/organizations/{organizationId}/tasks\` reports
\`TaskEvent\`s. Members of the task's organization follow them at the server root (not under /api):
\`GET /tasks/{taskId}/events\` (Server-Sent Events) and \`/tasks/{taskId}/ws\` (a plain websocket), both
described below with their own server; each event after the last one seen arrives exactly once, in
order, and the stream ends after task_end / task_error. tRPC clients use the \`tasks.events\`
subscription (the SDK's \`tasks.follow\`) instead.`;

/**
 * Built once per process: the document is large and the router never changes at runtime.
 * `publicUrl`: the server's public origin (API_HOST), or '' for a document relative to whichever
 * host serves it.
 */
export function createOpenApiDocument(publicUrl: string) {
  const generated = generateOpenApiDocument(appRouter, {
    title: 'Woopdi API',
    description,
    version: '0.1.0',
    baseUrl: `${publicUrl}/api`,
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    // Routes served outside the tRPC router (streamed bodies) but documented with it.
    paths: assetUploadPaths,
  });
  const doc = generated as unknown as OpenApiDocument;
  addTaskDocumentation(doc, publicUrl || '/');
  return addWebhooks(finishDocument(doc)) as unknown as typeof generated;
}

type Json = Record<string, unknown>;
interface OpenApiOperation extends Json {
  operationId?: string;
  description?: string;
  security?: Record<string, string[]>[];
  tags?: string[];
  responses?: Record<string, Json>;
}
interface OpenApiDocument extends Json {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, Json> } & Json;
  tags?: { name: string; description: string }[];
}

const TAGS: Record<string, string> = {
  auth: 'Sign-up, sign-in, tokens, email verification and password reset.',
  users: 'The signed-in user: profile, memberships, active organization, sessions.',
  organizations: 'Organizations you belong to: settings, ownership, audit log, secrets.',
  members: "An organization's members and their roles.",
  invitations: 'Invitations to join an organization, from creation to acceptance.',
  tasks: 'Long-running tasks and their events (live streams: see the document description).',
  assets: 'Files: signed-URL and multipart uploads, listing, download URLs.',
  billing: 'Plans, Stripe checkout and portal, seats.',
  admin: 'System administration (admin and superadmin system roles).',
  system: 'System-wide settings.',
  'api-keys': 'Organization API keys: machine access acting for one organization with a role.',
  webhooks: 'Outbound webhooks: endpoints, secrets, delivery log (events: see `webhooks`).',
};

/** What every error body is, on every status (the REST bridge and the server's procedure lane both send it). */
const ERROR_SCHEMA = {
  type: 'object',
  title: 'Error',
  required: ['message', 'code'],
  properties: {
    message: { type: 'string', description: 'What went wrong, in a sentence a person can act on.' },
    code: {
      type: 'string',
      description: "The error code (tRPC's names), matching the HTTP status.",
      examples: ['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'TOO_MANY_REQUESTS'],
    },
    issues: {
      type: 'array',
      description: 'For invalid input (400): one entry per problem.',
      items: {
        type: 'object',
        required: ['message'],
        properties: {
          message: { type: 'string' },
          path: { type: 'array', items: { type: ['string', 'integer'] } },
          code: { type: 'string' },
        },
      },
    },
    data: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        httpStatus: { type: 'integer' },
        path: { type: 'string', description: 'The procedure.' },
        fieldErrors: {
          type: 'object',
          description: 'For invalid input: the messages per field.',
          additionalProperties: { type: 'array', items: { type: 'string' } },
        },
        retryAfterSeconds: {
          type: 'integer',
          description: 'With 429 and 503: when to try again (also the Retry-After header).',
        },
      },
    },
  },
  example: {
    message: 'email: Enter a valid email address',
    code: 'BAD_REQUEST',
    issues: [{ code: 'invalid_format', path: ['email'], message: 'Enter a valid email address' }],
  },
};

const STATUS_TEXT: Record<string, string> = {
  '400': 'Invalid input: `issues` and `data.fieldErrors` name each field.',
  '401': 'No valid access token (sign in, or refresh the token).',
  '403': 'Signed in, but your role does not allow this.',
  '404': 'Not found, or not in an organization you belong to.',
  '409': 'Conflicts with the current state (see the operation description).',
  '412': "A precondition of the organization's plan or state is not met (see the description).",
  '413': 'The request body is too large (JSON bodies: at most 1 MB).',
  '429': 'Too many requests: wait `Retry-After` seconds.',
  '500': 'Something went wrong on our side; it has been logged.',
  '503': 'A dependency (database, Redis) is unavailable: retry after `Retry-After` seconds.',
};

interface OperationRules {
  access?: Access;
  /** Statuses the procedure declares beyond its gate's (meta.openapi.errorResponses), with their text. */
  declared: Record<string, string | undefined>;
  configOnly: boolean;
}

/** What each documented procedure was built with (see trpc.ts), by "method path". */
function rulesByOperation(): Map<string, OperationRules> {
  const out = new Map<string, OperationRules>();
  const procedures = (appRouter._def as unknown as { procedures: Record<string, { _def: { meta?: Json } }> })
    .procedures;
  for (const procedure of Object.values(procedures)) {
    const meta = procedure._def.meta as
      | (WoopdiMeta & {
          openapi?: { method: string; path: string; errorResponses?: number[] | Record<number, string> };
        })
      | undefined;
    if (!meta?.openapi) continue;
    const listed = meta.openapi.errorResponses ?? [];
    const declared: Record<string, string | undefined> = Array.isArray(listed)
      ? Object.fromEntries(listed.map((status) => [String(status), undefined]))
      : Object.fromEntries(Object.entries(listed).map(([status, text]) => [status, text]));
    out.set(`${meta.openapi.method.toLowerCase()} ${meta.openapi.path}`, {
      ...(meta.access && { access: meta.access }),
      declared,
      configOnly: meta.configOnly === true,
    });
  }
  return out;
}

/** Drops zod's regular expressions where a `format` already says it (they made unreadable examples). */
function stripFormatPatterns(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) stripFormatPatterns(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Json;
  if (typeof schema.format === 'string' && typeof schema.pattern === 'string') {
    delete schema.pattern;
    const example = FORMAT_EXAMPLES[schema.format];
    if (example && schema.example === undefined && schema.examples === undefined) schema.examples = [example];
  }
  for (const value of Object.values(schema)) stripFormatPatterns(value);
}

const FORMAT_EXAMPLES: Record<string, string> = {
  uuid: '3f2b8c1e-6a4d-4e2f-9b7a-1c5d8e9f0a12',
  'date-time': '2026-12-01T09:30:00.000Z',
  email: 'ada@example.com',
};

/**
 * What trpc-to-openapi leaves out or gets wrong, set from what the server really does: security per
 * operation from its gate, the statuses its gate and its description promise, one Error schema for
 * every error body, declared tags, and formats without regex patterns.
 */
export function finishDocument(doc: OpenApiDocument): OpenApiDocument {
  const rules = rulesByOperation();
  const components = doc.components ?? {};
  const schemas = components.schemas ?? {};
  // trpc-to-openapi's per-code error schemas were closed (`additionalProperties: false`) and missed
  // what the server sends (`data`, the issues' `path` and `code`): one honest schema instead.
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.Error = ERROR_SCHEMA;
  doc.components = { ...components, schemas };
  // Procedures always send Retry-After with 429 and 503 (server/src/errors.ts); the streams'
  // connection-limit refusals do not.
  const errorResponse = (status: string, text?: string, retryAfterSent = false) => ({
    description: text ?? STATUS_TEXT[status] ?? 'Error',
    ...(status === '429' || status === '503'
      ? { headers: { 'Retry-After': { ...RETRY_AFTER, required: retryAfterSent } } }
      : {}),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  const usedTags = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      if (!HTTP_METHODS.has(method)) continue; // path-level `servers` or `parameters`
      const rule = rules.get(`${method} ${path}`);
      const scope = rule?.access?.scope ?? 'authed';
      op.operationId ??= `${method}-${path
        .replace(/[{}]/g, '')
        .replace(/[^A-Za-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}`;
      const access = rule?.access;
      if (scope === 'public') {
        op.security =
          access && 'session' in access && access.session === 'optional' ? [{}, { bearer: [] }] : [];
      } else op.security ??= [{ bearer: [] }];
      const responses = op.responses ?? {};
      op.responses = responses;
      // What can answer: a bug (500) anywhere; the database or Redis down (503) unless the answer
      // comes from configuration alone; the gate's refusals; 400 for any input; and the statuses the
      // procedure declares or its description promises.
      const statuses = new Set(['500']);
      if (!rule?.configOnly) statuses.add('503');
      if (scope !== 'public') statuses.add('401');
      if (scope === 'org' || scope === 'system') statuses.add('403');
      if (scope === 'org') statuses.add('404');
      if (op.requestBody || (op.parameters as unknown[] | undefined)?.length) statuses.add('400');
      // The server reads at most 1 MB of any request body.
      if (op.requestBody) statuses.add('413');
      for (const promised of op.description?.match(/\b(400|401|403|404|409|412|413|429)\b/g) ?? [])
        statuses.add(promised);
      for (const status of Object.keys(rule?.declared ?? {})) statuses.add(status);
      for (const [status, response] of Object.entries(responses)) {
        if (!/^[45]/.test(status)) continue;
        // A procedure's error responses are trpc-to-openapi's guesses (403 on every protected
        // operation, 404 on every GET with input, texts shared between procedures): rebuilt from
        // `statuses` below. Routes outside the router (uploads, streams) wrote their own.
        if (rule) delete responses[status];
        else responses[status] = errorResponse(status, response.description as string | undefined);
      }
      for (const status of statuses)
        responses[status] ??= errorResponse(status, rule?.declared[status], rule !== undefined);
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
      for (const tag of op.tags ?? []) usedTags.add(tag);
    }
  }
  doc.tags = [...usedTags].sort().map((name) => ({ name, description: TAGS[name] ?? name }));
  stripFormatPatterns(doc.paths);
  stripFormatPatterns(doc.components);
  return doc;
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

const RETRY_AFTER = {
  description: 'Seconds to wait before trying again.',
  schema: { type: 'integer', minimum: 1 },
};
