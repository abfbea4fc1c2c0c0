import { generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './root.js';

const description = `Woopdi's REST API: every tRPC procedure, as plain HTTP + JSON.

Authenticate with \`Authorization: Bearer <accessToken>\` from \`POST /api/auth/login\`. Errors are
\`{ message, code, issues? }\` with the HTTP status of the code (400, 401, 403, 404, 409, 412, 429).`;

/** Built once per process: the document is large and the router never changes at runtime. */
export function createOpenApiDocument(baseUrl: string) {
  return generateOpenApiDocument(appRouter, {
    title: 'Woopdi API',
    description,
    version: '0.1.0',
    baseUrl,
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
  });
}
