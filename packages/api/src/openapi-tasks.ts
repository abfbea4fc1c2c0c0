// What the OpenAPI document says about tasks beyond what trpc-to-openapi derives from the router:
// the start body per kind, from core's task catalogue, and the two live streams the server serves
// outside /api (server/src/task-sse.ts and task-ws.ts).
import { type TaskEvent, taskEventTypes, taskKinds, uuid } from '@woopdi/core';
import { z } from 'zod';
import { createSchema } from 'zod-openapi';
import { isoDate } from './schemas.js';

type Json = Record<string, unknown>;

const pascal = (name: string) => name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());

/**
 * `{ kind, input }`, one variant per kind of core's catalogue: the router keeps `input` a free-form
 * record (trpc-to-openapi takes only an object), and tasks.startTask parses it with the kind's
 * schema, so this union is what the server really accepts. `input` may be left out exactly when the
 * kind's schema accepts `{}` (the router's default).
 */
function taskStartBody() {
  const variants = Object.entries(taskKinds).map(([name, kind]) => {
    const schema: z.ZodType = kind.input;
    const input = schema.safeParse({}).success ? schema.optional() : schema;
    const needs = kind.entitlement ? ` Needs the plan feature \`${kind.entitlement}\` (412 without it).` : '';
    return z
      .object({
        kind: z.literal(name),
        input: input.describe(
          input.safeParse(undefined).success ? 'Optional: left out, the defaults apply.' : 'Required.',
        ),
      })
      .meta({
        id: `TaskStart${pascal(name)}`,
        title: name,
        description: `${kind.summary} Role: ${kind.minRole} or higher (403 below it).${needs}`,
      });
  });
  return z.discriminatedUnion('kind', variants as [(typeof variants)[number], ...typeof variants]);
}

/** The event format of DESIGN §6 (core's TaskEvent), as the streams send it. */
const taskEvent = z
  .object({
    taskId: uuid(),
    seq: z.number().int().min(1).describe('Counts from 1 without gaps: the event id to resume after.'),
    type: z.enum(taskEventTypes),
    message: z.string(),
    progress: z.number().min(0).max(1).optional().describe('0..1'),
    current: z.number().optional(),
    total: z.number().optional(),
    data: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('On task_end, the result (e.g. `{ assetId, downloadUrl }`).'),
    at: isoDate,
  })
  .meta({
    id: 'TaskEvent',
    description:
      'One event of a task. The stream ends after the terminal event (`task_end` or `task_error`).',
  });
// The schema must describe core's type exactly, both ways.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameAsCore: Exact<Required<z.output<typeof taskEvent>>, Required<TaskEvent>> = true;
void sameAsCore;

const json = (ref: string) => ({ 'application/json': { schema: { $ref: ref } } });
const ERROR = '#/components/schemas/Error';
const refusal = (description: string) => ({ description, content: json(ERROR) });

const taskIdParam = {
  name: 'taskId',
  in: 'path',
  required: true,
  description: 'The id `POST /api/organizations/{organizationId}/tasks` answered.',
  schema: { type: 'string', format: 'uuid' },
};
const lastEventIdQuery = {
  name: 'lastEventId',
  in: 'query',
  required: false,
  description:
    'The `seq` of the last event you have: only later events are sent (default 0, from the start).',
  schema: { type: 'string', pattern: '^\\s*\\d{1,9}\\s*$', examples: ['3'] },
};
const lastEventIdHeader = {
  name: 'Last-Event-ID',
  in: 'header',
  required: false,
  description:
    'The `seq` of the last event you have (takes precedence over `lastEventId`; an EventSource sends it on reconnect).',
  schema: { type: 'string', pattern: '^\\s*\\d{1,9}\\s*$', examples: ['3'] },
};
const streamSecurity = [{ bearer: [] }, { accessTokenQuery: [] }];

const streamRefusals = {
  '400': refusal('`Last-Event-ID` / `lastEventId` is not a non-negative integer.'),
  '401': refusal('No valid access token (in the Authorization header or `?token=`).'),
  '404': refusal("No such task in an organization you belong to (or below its kind's role)."),
  '429': refusal(
    'Too many open websockets and event streams from your address or for your account (WS_MAX_PER_ADDRESS, WS_MAX_PER_USER): close one, then retry.',
  ),
  '500': refusal('Something went wrong on our side; it has been logged.'),
  '503': refusal('The database is unavailable, or (websocket) the server is restarting: retry shortly.'),
};

/** The SSE and websocket routes at the server root, as path items (their servers are the root). */
function taskStreamPaths(rootUrl: string): Record<string, Json> {
  const servers = [{ url: rootUrl, description: 'The server root: the streams are not under /api.' }];
  return {
    '/tasks/{taskId}/events': {
      servers,
      get: {
        operationId: 'tasks-events-sse',
        tags: ['tasks'],
        summary: "A task's live events as Server-Sent Events",
        description:
          'Every event after the last one you have, exactly once and in order, then the response ends after `task_end` / `task_error`. Each event is a frame `id: <seq>`, `event: <type>`, `data: <TaskEvent JSON>`; the stream starts with `retry: 2000` and sends a comment (`: heartbeat`) every 15 s. Resume with `Last-Event-ID` (an EventSource sends it by itself on reconnect) or `?lastEventId=`. A browser EventSource, which cannot set headers, passes the token as `?token=`. When you lose access mid-stream (removed from the organization, signed out) an `event: error` frame with an Error JSON ends it. A client that reads too slowly (over STREAM_MAX_BUFFERED_BYTES behind) is cut off and resumes with Last-Event-ID. Refusals are answered before streaming, as JSON.',
        security: streamSecurity,
        parameters: [taskIdParam, lastEventIdHeader, lastEventIdQuery],
        responses: {
          '200': {
            description: 'The event stream.',
            content: {
              'text/event-stream': {
                schema: {
                  type: 'string',
                  description:
                    'SSE frames; the `data` of each `event: <type>` frame is one TaskEvent (#/components/schemas/TaskEvent), of `event: error` one Error.',
                },
                example:
                  'retry: 2000\n\nid: 1\nevent: task_start\ndata: {"taskId":"3f2b8c1e-6a4d-4e2f-9b7a-1c5d8e9f0a12","seq":1,"type":"task_start","message":"Started","at":"2026-12-01T09:30:00.000Z"}\n\n',
              },
            },
          },
          '204': {
            description:
              'You already have the terminal event (a reconnect after task_end / task_error): nothing more will come, and an EventSource stops reconnecting.',
          },
          ...streamRefusals,
        },
      },
    },
    '/tasks/{taskId}/ws': {
      servers,
      get: {
        operationId: 'tasks-events-ws',
        tags: ['tasks'],
        summary: "A task's live events over a plain websocket",
        description:
          'Connect with `ws://` or `wss://` (`Upgrade: websocket`). Every event after `lastEventId` arrives as one JSON text frame (a TaskEvent), exactly once and in order; the client sends nothing. Close codes: 1000 after the terminal event; 1008 when you lose access; 1012 when the server restarts or the stream is interrupted and 1013 when you read too slowly (after either, reconnect with `?lastEventId=<last seq>`). Refusals (401, 404, 429, 503) are plain HTTP answers to the upgrade request, with an Error JSON body. A request without `Upgrade: websocket` answers 426.',
        security: streamSecurity,
        parameters: [taskIdParam, lastEventIdHeader, lastEventIdQuery],
        responses: {
          '101': {
            description:
              'Switched to the websocket protocol. The content below is each text frame the server then sends: one TaskEvent per frame.',
            content: json('#/components/schemas/TaskEvent'),
          },
          '426': refusal('Not a websocket upgrade request: connect with a websocket client.'),
          ...streamRefusals,
        },
      },
    },
  };
}

const ACCESS_TOKEN_QUERY = {
  type: 'apiKey',
  in: 'query',
  name: 'token',
  description:
    'The access token as `?token=`, for the task streams only: browser EventSource and WebSocket cannot send an Authorization header.',
};

/**
 * Puts into a generated document: the tasks.start body as a `oneOf` discriminated by `kind`, the
 * TaskEvent schema, and the task streams (rooted at `rootUrl`, the server's public origin or `/`).
 */
export function addTaskDocumentation(
  doc: { paths: Record<string, Json>; components?: Json },
  rootUrl: string,
): void {
  doc.components ??= {};
  const components = doc.components as { schemas?: Json; securitySchemes?: Json };
  components.schemas ??= {};
  const schemas = components.schemas;
  const opts = { io: 'input' as const, openapiVersion: '3.1.0' as const };
  const body = createSchema(taskStartBody(), opts);
  const event = createSchema(taskEvent, { ...opts, io: 'output' });
  Object.assign(schemas, body.components, event.components);
  components.securitySchemes = { ...components.securitySchemes, accessTokenQuery: ACCESS_TOKEN_QUERY };

  const start = (doc.paths['/organizations/{organizationId}/tasks'] as { post?: Json } | undefined)?.post;
  const media = (start?.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)
    ?.content?.['application/json'];
  if (!media) throw new Error('tasks.start is missing from the generated document');
  // zod-openapi adds `type: object` beside the oneOf; generators then intersect it with each variant.
  const { type: _object, ...union } = body.schema as Json;
  media.schema = union;
  Object.assign(doc.paths, taskStreamPaths(rootUrl));
}
