import { generateOpenApiDocument } from 'trpc-to-openapi';
import { addWebhooks } from './openapi-webhooks.js';
import { appRouter } from './root.js';
import { assetUploadPaths } from './routers/assets.js';
import type { Access } from './trpc.js';

const description = `Woopdi's REST API: every tRPC procedure, as plain HTTP + JSON.

Authenticate with \`Authorization: Bearer <accessToken>\` from \`POST /api/auth/login\`. Errors are
\`{ message, code, issues? }\` with the HTTP status of the code (400, 401, 403, 404, 409, 412, 429).

**Live task events** (outside \`/api\`, at the server root). A task started with
\`POST /api/organizations/{organizationId}/tasks\` reports events
\`{ taskId, seq, type, message, progress?, current?, total?, data?, at }\` (\`type\`: task_start, progress,
stage_start, stage_end, update, task_end, task_error; \`seq\` counts from 1 without gaps). Members of the
task's organization can follow them; each event after the last one seen arrives exactly once, in
order, and the stream ends after task_end / task_error:

- \`GET /tasks/{taskId}/events\`: Server-Sent Events (\`id: <seq>\`, \`event: <type>\`, \`data: <event JSON>\`,
  a comment heartbeat every 15 s). Bearer token in the \`Authorization\` header or \`?token=\` (for
  EventSource); resume with the \`Last-Event-ID\` header or \`?lastEventId=\`. 401 / 404 / 400 as JSON
  errors before streaming; 204 on a reconnect after the terminal event; an \`event: error\` frame when
  access is lost mid-stream. \`curl -N -H 'Authorization: Bearer <token>' <host>/tasks/<taskId>/events\`.
- \`/tasks/{taskId}/ws\`: a websocket sending each event as one JSON text frame (the client sends
  nothing). \`?token=\` (or the Authorization header), optional \`?lastEventId=\`. The upgrade is refused
  with HTTP 401 / 404; the socket closes with 1000 after the terminal event, 1008 when access is lost,
  1012 when the server restarts and 1013 when the client reads too slowly (reconnect with
  \`lastEventId\` after 1012 and 1013).

A client that falls too far behind (more than the server's STREAM_MAX_BUFFERED_BYTES queued for it)
is dropped rather than buffered without limit; it resumes from its last event id without a gap or a
repeat (an SSE response simply ends, and EventSource reconnects with Last-Event-ID).`;

/** Built once per process: the document is large and the router never changes at runtime. */
export function createOpenApiDocument(baseUrl: string) {
  const generated = generateOpenApiDocument(appRouter, {
    title: 'Woopdi API',
    description,
    version: '0.1.0',
    baseUrl,
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    // Routes served outside the tRPC router (streamed bodies) but documented with it.
    paths: assetUploadPaths,
  });
  return addWebhooks(finishDocument(generated as unknown as OpenApiDocument)) as unknown as typeof generated;
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

/** What every error body is, on every status (the REST bridge and the query lane both send it). */
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
  '413': 'The request body is too large.',
  '429': 'Too many requests: wait `Retry-After` seconds.',
  '500': 'Something went wrong on our side; it has been logged.',
  '503': 'A dependency (database, Redis) is unavailable: retry after `Retry-After` seconds.',
};

/** The access rule each documented procedure was built with (see trpc.ts), by "METHOD path". */
function accessByOperation(): Map<string, Access> {
  const out = new Map<string, Access>();
  const procedures = (appRouter._def as unknown as { procedures: Record<string, { _def: { meta?: Json } }> })
    .procedures;
  for (const procedure of Object.values(procedures)) {
    const meta = procedure._def.meta as
      | { openapi?: { method: string; path: string }; access?: Access }
      | undefined;
    if (meta?.openapi && meta.access)
      out.set(`${meta.openapi.method.toLowerCase()} ${meta.openapi.path}`, meta.access);
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
  const access = accessByOperation();
  const components = doc.components ?? {};
  const schemas = components.schemas ?? {};
  // trpc-to-openapi's per-code error schemas were closed (`additionalProperties: false`) and missed
  // what the server sends (`data`, the issues' `path` and `code`): one honest schema instead.
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.Error = ERROR_SCHEMA;
  doc.components = { ...components, schemas };
  const errorResponse = (status: string) => ({
    description: STATUS_TEXT[status] ?? 'Error',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  const usedTags = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const rule = access.get(`${method} ${path}`);
      const scope = rule?.scope ?? 'authed';
      op.operationId ??= `${method}-${path
        .replace(/[{}]/g, '')
        .replace(/[^A-Za-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')}`;
      if (scope === 'public') {
        op.security = rule && 'session' in rule && rule.session === 'optional' ? [{}, { bearer: [] }] : [];
      } else op.security ??= [{ bearer: [] }];
      const statuses = new Set(['500', '503']);
      if (scope !== 'public') statuses.add('401');
      if (scope === 'org' || scope === 'system') statuses.add('403');
      if (scope === 'org') statuses.add('404');
      for (const promised of op.description?.match(/\b(409|412|413|429)\b/g) ?? []) statuses.add(promised);
      const responses = op.responses ?? {};
      op.responses = responses;
      for (const status of Object.keys(responses)) {
        if (status.startsWith('4') || status.startsWith('5')) responses[status] = errorResponse(status);
      }
      for (const status of statuses) responses[status] ??= errorResponse(status);
      for (const tag of op.tags ?? []) usedTags.add(tag);
    }
  }
  doc.tags = [...usedTags].sort().map((name) => ({ name, description: TAGS[name] ?? name }));
  stripFormatPatterns(doc.paths);
  stripFormatPatterns(doc.components);
  return doc;
}
