// A client generated from the served /openapi.json with tools nobody here wrote: openapi-typescript
// writes the types, tsc checks openapi-client/flow.ts against them (including the mistakes they
// must catch), and the flow runs with openapi-fetch against the real server and worker.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

/** What openapi-client/flow.ts's runFlow answers (it is imported at run time: see below). */
interface FlowResult {
  meEmail: string;
  invitationEmails: string[];
  taskStatus: string;
  taskProgress: number;
  duplicateSignup: { status: number; error?: { code: string; message: string } };
  badLogin: { status: number; error?: { code: string; message: string } };
  invalidSignup: {
    status: number;
    issuePaths: (string | number)[][];
    fieldErrors?: Record<string, string[]>;
  };
}
type RunFlow = (baseUrl: string, email: string, password: string, invitee: string) => Promise<FlowResult>;

// Not a static import: the flow's types exist only once this file has generated them, and the
// package's own type check must pass on a clean clone.
const FLOW = './openapi-client/flow.js';
const runFlow: RunFlow = async (...args) => ((await import(FLOW)) as { runFlow: RunFlow }).runFlow(...args);

const clientDir = fileURLToPath(new URL('./openapi-client/', import.meta.url));
const tsc = fileURLToPath(new URL('../../../node_modules/.bin/tsc', import.meta.url));

let server: TestServer;
let worker: WorkerHandle;

beforeAll(async () => {
  server = await startTestServer();
  worker = await startWorker({ ...server.deps, pollInterval: 50 });
  const doc = await (await fetch(`${server.url}/openapi.json`)).json();
  const ast = await openapiTS(doc as Parameters<typeof openapiTS>[0], { silent: true });
  mkdirSync(`${clientDir}generated`, { recursive: true });
  writeFileSync(`${clientDir}generated/schema.ts`, astToString(ast));
});

afterAll(async () => {
  await worker?.stop();
  await server?.close();
});

describe('a client generated from /openapi.json (openapi-typescript + openapi-fetch)', () => {
  it('type-checks: the flow compiles, and each deliberate misuse is an error', async () => {
    // Exits non-zero on any error, including an @ts-expect-error line that compiles.
    const result = await promisify(execFile)(tsc, ['-p', `${clientDir}tsconfig.json`]).catch(
      (error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? String(error), stderr: '' }),
    );
    expect(result.stdout).toBe('');
  }, 120_000); // tsc on a 250 kB generated file, on a busy 2-core machine

  it('signs up, signs in, creates an organization, invites, starts a task and polls it to the end', async () => {
    const email = uniqueEmail('generated');
    const invitee = uniqueEmail('invitee');
    const result = await runFlow(`${server.url}/api`, email, PASSWORD, invitee);
    expect(result.meEmail).toBe(email.toLowerCase());
    expect(result.invitationEmails).toContain(invitee.toLowerCase());
    expect(result.taskStatus).toBe('succeeded');
    expect(result.taskProgress).toBe(1);
  });

  it('reads the errors through the generated Error type: 409, 401 and a 400 with field errors', async () => {
    const result = await runFlow(
      `${server.url}/api`,
      uniqueEmail('errors'),
      PASSWORD,
      uniqueEmail('invitee'),
    );
    expect(result.duplicateSignup.status).toBe(409);
    expect(result.duplicateSignup.error).toMatchObject({ code: 'CONFLICT' });
    expect(result.duplicateSignup.error?.message).toMatch(/already/i);
    expect(result.badLogin.status).toBe(401);
    expect(result.badLogin.error).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(result.invalidSignup.status).toBe(400);
    expect(result.invalidSignup.issuePaths).toEqual(expect.arrayContaining([['email'], ['password']]));
    expect(Object.keys(result.invalidSignup.fieldErrors ?? {}).sort()).toEqual(['email', 'password']);
    expect(result.invalidSignup.fieldErrors?.email?.[0]).toMatch(/valid email/);
  });
});
