import { generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './root.js';
import { assetUploadPaths } from './routers/assets.js';

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
  return generateOpenApiDocument(appRouter, {
    title: 'Woopdi API',
    description,
    version: '0.1.0',
    baseUrl,
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    // Routes served outside the tRPC router (streamed bodies) but documented with it.
    paths: assetUploadPaths,
  });
}
