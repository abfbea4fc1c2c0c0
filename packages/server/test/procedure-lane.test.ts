// The procedure lane answers REST mutations with a JSON body itself (issue #12: a task start spent
// most of its api time in express, body-parser and the bridge). What it must keep is the answer:
// every request below is sent to the real server (hot path + lane in front of express) and to the
// same app with the lane switched off (express, body-parser and the REST bridge alone), and both
// must answer the same status and body — REST and tRPC. Which requests the lane takes is pinned on
// its own.
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { appRouter } from '@woopdi/api';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../src/app.js';
import { createProcedureLane } from '../src/procedure-lane.js';
import { apiDeps } from '../src/runtime.js';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;
let expressOnly: http.Server;
let expressUrl: string;
let token: string;
let organizationId: string;
const email = uniqueEmail('lane');

beforeAll(async () => {
  server = await startTestServer();
  const app = createApp({ ...(await apiDeps(server.runtime)), publicUrl: '' }, { match: () => undefined });
  expressOnly = http.createServer(app);
  await new Promise<void>((resolve) => expressOnly.listen(0, '127.0.0.1', resolve));
  expressUrl = `http://127.0.0.1:${(expressOnly.address() as AddressInfo).port}`;
  const signup = await call<{ tokens: { accessToken: string } }>(`${server.url}/api/auth/signup`, {
    body: { email, password: PASSWORD, name: 'Lane' },
  });
  expect(signup.status, signup.text).toBe(200);
  token = signup.body.tokens.accessToken;
  const org = await call<{ id: string }>(`${server.url}/api/organizations/create-organization`, {
    token,
    body: { name: 'Lane' },
  });
  expect(org.status, org.text).toBe(200);
  organizationId = org.body.id;
});
afterAll(async () => {
  await new Promise((resolve) => expressOnly?.close(resolve));
  await server?.close();
});

interface Sent {
  method: string;
  path: string;
  /** Sent byte for byte, with its Content-Length. */
  body?: string | Buffer;
  headers?: Record<string, string>;
  auth?: boolean;
}

/** One request over node:http, so the bytes, framing and headers are exactly the test's. */
function send(base: string, { method, path, body, headers = {}, auth }: Sent) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>(
    (resolve, reject) => {
      const req = http.request(`${base}${path}`, {
        method,
        headers: {
          ...(auth && { authorization: `Bearer ${token}` }),
          ...(body !== undefined && { 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.end(body);
    },
  );
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;
/** The answer without what differs between any two calls (new ids and times). */
const normal = (text: string) => JSON.parse(text.replace(UUID, '<id>').replace(TIME, '<time>')) as unknown;

const json = { 'content-type': 'application/json' };
const nested = (levels: number) => `{"email":${'['.repeat(levels)}1${']'.repeat(levels)}}`;

describe('the lane answers REST mutations exactly as express and the bridge do', () => {
  const cases: Array<[string, number, () => Sent]> = [
    [
      'a body that is not JSON',
      400,
      () => ({ method: 'POST', path: '/api/auth/login', body: '{', headers: json }),
    ],
    ['a JSON string (strict parsing)', 400, () => ({ method: 'POST', path: '/api/auth/login', body: '"x"' })],
    [
      'only whitespace',
      400,
      () => ({ method: 'POST', path: '/api/auth/login', body: ' \n ', headers: json }),
    ],
    ['a body nested too deep', 400, () => ({ method: 'POST', path: '/api/auth/login', body: nested(5000) })],
    [
      'invalid input (issues)',
      400,
      () => ({ method: 'POST', path: '/api/auth/login', body: '{"email":"nope"}', headers: json }),
    ],
    [
      'a wrong password (401)',
      401,
      () => ({
        method: 'POST',
        path: '/api/auth/login',
        body: JSON.stringify({ email, password: 'not the password' }),
        headers: json,
      }),
    ],
    [
      'a UTF-8 byte order mark and a text/plain type',
      401,
      () => ({
        method: 'POST',
        path: '/api/auth/login',
        body: `\ufeff${JSON.stringify({ email, password: 'not the password' })}`,
        headers: { 'content-type': 'text/plain' },
      }),
    ],
    ['an array', 400, () => ({ method: 'POST', path: '/api/auth/login', body: '[1,2]', headers: json })],
    [
      'no token on a gated mutation (401)',
      401,
      () => ({ method: 'POST', path: '/api/auth/2fa/enroll', body: '' }),
    ],
    [
      'a malformed body for a procedure without input',
      400,
      () => ({ method: 'POST', path: '/api/auth/2fa/enroll', body: '{', auth: true }),
    ],
    [
      'a path parameter that is not a uuid',
      400,
      () => ({ method: 'PUT', path: '/api/organizations/not-a-uuid', body: '{"name":"x"}', auth: true }),
    ],
    [
      'an invalid PUT body',
      400,
      () => ({
        method: 'PUT',
        path: `/api/organizations/${organizationId}`,
        body: '{"name":""}',
        headers: json,
        auth: true,
      }),
    ],
    [
      'a rename (PUT, 200)',
      200,
      () => ({
        method: 'PUT',
        path: `/api/organizations/${organizationId}`,
        body: '{"name":"Lane renamed"}',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        auth: true,
      }),
    ],
    [
      'a profile change (PATCH, 200)',
      200,
      () => ({ method: 'PATCH', path: '/api/user/me', body: '{"name":"Lane"}', headers: json, auth: true }),
    ],
    [
      'a task of an unknown kind',
      400,
      () => ({
        method: 'POST',
        path: `/api/organizations/${organizationId}/tasks`,
        body: '{"kind":"nope","input":{}}',
        auth: true,
      }),
    ],
    [
      'a task start (200)',
      200,
      () => ({
        method: 'POST',
        path: `/api/organizations/${organizationId}/tasks`,
        body: JSON.stringify({ kind: 'example_streaming', input: { steps: 1, intervalMs: 0 } }),
        headers: json,
        auth: true,
      }),
    ],
    [
      'a second team organization (409)',
      409,
      () => ({
        method: 'POST',
        path: '/api/organizations/create-organization',
        body: '{"name":"Another"}',
        headers: json,
        auth: true,
      }),
    ],
  ];

  const task = JSON.stringify({ kind: 'example_streaming', input: { steps: 1, intervalMs: 0 } });
  // A new unknown account each time: failed sign-ins of one account are limited (429).
  const wrong = () => JSON.stringify({ email: uniqueEmail('nobody'), password: 'not the password' });
  cases.push(
    [
      'tRPC: a wrong password (401)',
      401,
      () => ({ method: 'POST', path: '/trpc/auth.login', body: wrong(), headers: json }),
    ],
    [
      'tRPC: a body that is not JSON',
      400,
      () => ({ method: 'POST', path: '/trpc/auth.login', body: '{', headers: json }),
    ],
    [
      'tRPC: a body that is not JSON, signed out, on a gated mutation (the gate first: 401)',
      401,
      () => ({ method: 'POST', path: '/trpc/tasks.start', body: '{', headers: json }),
    ],
    [
      'tRPC: a UTF-8 byte order mark',
      401,
      () => ({ method: 'POST', path: '/trpc/auth.login', body: `\ufeff${wrong()}`, headers: json }),
    ],
    [
      'tRPC: a body nested too deep',
      400,
      () => ({ method: 'POST', path: '/trpc/auth.login', body: nested(5000), headers: json }),
    ],
    [
      'tRPC: an empty body for a mutation that needs input',
      400,
      () => ({ method: 'POST', path: '/trpc/auth.login', body: '', headers: json }),
    ],
    [
      'tRPC: a batch that is not an object',
      400,
      () => ({ method: 'POST', path: '/trpc/auth.login?batch=1', body: '[1]', headers: json }),
    ],
    [
      'tRPC: a batch of a 401 and a 400 (207)',
      207,
      () => ({
        method: 'POST',
        path: '/trpc/auth.login,auth.login?batch=1',
        body: `{"0":${wrong()},"1":{"email":"nope"}}`,
        headers: json,
      }),
    ],
    [
      'tRPC: a task start in a batch (200)',
      200,
      () => ({
        method: 'POST',
        path: '/trpc/tasks.start?batch=1',
        body: `{"0":${JSON.stringify({ ...JSON.parse(task), organizationId })}}`,
        headers: json,
        auth: true,
      }),
    ],
    [
      'tRPC: a query sent as POST (405, the adapter)',
      405,
      () => ({ method: 'POST', path: '/trpc/users.me', body: '', headers: json, auth: true }),
    ],
    [
      'tRPC: a body that is not declared JSON (415, the adapter)',
      415,
      () => ({
        method: 'POST',
        path: '/trpc/auth.login',
        body: wrong(),
        headers: { 'content-type': 'text/plain' },
      }),
    ],
  );

  it.each(cases)('%s', async (_name, status, request) => {
    const sent = request();
    const viaLane = await send(server.url, sent);
    const viaExpress = await send(expressUrl, sent);
    expect(viaExpress.status, viaExpress.text).toBe(status);
    expect(viaLane.status, viaLane.text).toBe(status);
    expect(normal(viaLane.text)).toEqual(normal(viaExpress.text));
    expect(viaLane.headers['x-request-id']).toBeTruthy();
    expect(viaLane.headers['content-security-policy']).toBe(viaExpress.headers['content-security-policy']);
  });

  it("the path's organization id wins over one the body names (tenant scope comes from the path)", async () => {
    const elsewhere = '00000000-0000-4000-8000-000000000000';
    for (const base of [server.url, expressUrl]) {
      const renamed = await send(base, {
        method: 'PUT',
        path: `/api/organizations/${organizationId}`,
        body: JSON.stringify({ organizationId: elsewhere, name: 'Lane' }),
        headers: json,
        auth: true,
      });
      expect(renamed.status, renamed.text).toBe(200);
      expect(JSON.parse(renamed.text).id).toBe(organizationId);
    }
  });

  it.each([
    ['one `__proto__` key', '?__proto__=x&limit=1'],
    ['repeated `__proto__` keys', '?__proto__=a&__proto__=b&limit=1'],
    ['`__proto__` beside a filter', '?status=queued&__proto__=running'],
  ])(
    'a GET query with %s answers as express does (a key like any other, never the prototype)',
    async (_name, search) => {
      const sent: Sent = {
        method: 'GET',
        path: `/api/organizations/${organizationId}/tasks${search}`,
        auth: true,
      };
      const viaLane = await send(server.url, sent);
      const viaExpress = await send(expressUrl, sent);
      expect(viaLane.status, viaLane.text).toBe(viaExpress.status);
      expect(normal(viaLane.text)).toEqual(normal(viaExpress.text));
    },
  );

  it('an enrolment without a body answers the same fields on both', async () => {
    const viaLane = await send(server.url, { method: 'POST', path: '/api/auth/2fa/enroll', auth: true });
    const viaExpress = await send(expressUrl, { method: 'POST', path: '/api/auth/2fa/enroll', auth: true });
    expect(viaLane.status, viaLane.text).toBe(200);
    expect(viaExpress.status, viaExpress.text).toBe(200);
    expect(Object.keys(JSON.parse(viaLane.text)).sort()).toEqual(
      Object.keys(JSON.parse(viaExpress.text)).sort(),
    );
  });
});

describe("a GET query's input", () => {
  it('takes `?__proto__=` as a key like any other (as the bridge does), never as the prototype', async () => {
    const t = initTRPC.meta<OpenApiMeta>().create();
    let raw: unknown;
    const router = t.router({
      echo: t.procedure
        .meta({ openapi: { method: 'GET', path: '/echo' } })
        .input(z.object({ limit: z.string().optional() }))
        .output(z.string())
        .use(async ({ getRawInput, next }) => {
          raw = await getRawInput();
          return next();
        })
        .query(() => 'ok'),
    });
    const lane = createProcedureLane({
      router,
      createContext: () => ({}),
      onError: () => undefined,
      maxBatchSize: 10,
      errorHeaders: () => undefined,
      body: { maxBytes: 1024, maxDepth: 64 },
    });
    const req = { method: 'GET', url: '/api/echo?__proto__=a&__proto__=b&limit=1', headers: {} };
    const answered: unknown[] = [];
    await lane.match(req as unknown as IncomingMessage)!((status, body) => void answered.push(status, body));
    expect(answered).toEqual([200, 'ok']);
    expect(Object.getPrototypeOf(raw)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(raw, '__proto__')?.value).toEqual(['a', 'b']);
    expect(raw).toMatchObject({ limit: '1' });
  });
});

describe('what the lane takes', () => {
  const lane = createProcedureLane({
    router: appRouter,
    createContext: () => ({}),
    onError: () => undefined,
    maxBatchSize: 10,
    errorHeaders: () => undefined,
    body: { maxBytes: 1024, maxDepth: 64 },
    ownedByExpress: (method, path) => method === 'POST' && /\/assets\/upload$/.test(path),
  });
  const request = (method: string, url: string, headers: Record<string, string> = {}) =>
    ({ method, url, headers }) as unknown as IncomingMessage;
  const org = '/api/organizations/0b9f2c1e-7d4a-4c3b-9a51-2f6e8d7c4b10';

  it('JSON-body REST mutations and GET queries', () => {
    expect(lane.match(request('POST', `${org}/tasks`, { 'content-length': '10' }))).toBeTypeOf('function');
    expect(lane.match(request('POST', '/api/auth/logout'))).toBeTypeOf('function'); // no body at all
    expect(
      lane.match(
        request('PATCH', '/api/user/me', {
          'content-length': '2',
          'content-type': 'application/json; charset=UTF-8',
        }),
      ),
    ).toBeTypeOf('function');
    expect(lane.match(request('GET', org))).toBeTypeOf('function');
    const trpcJson = { 'content-length': '10', 'content-type': 'application/json' };
    expect(lane.match(request('POST', '/trpc/tasks.start,tasks.cancel?batch=1', trpcJson))).toBeTypeOf(
      'function',
    );
  });

  it('leaves to express what body-parser must decode or refuse, and routes express owns', () => {
    const body = { 'content-length': '10' };
    expect(
      lane.match(request('POST', `${org}/tasks`, { ...body, 'content-encoding': 'gzip' })),
    ).toBeUndefined();
    expect(lane.match(request('POST', `${org}/tasks`, { 'transfer-encoding': 'chunked' }))).toBeUndefined();
    expect(
      lane.match(
        request('POST', `${org}/tasks`, { ...body, 'content-type': 'application/json; charset=latin1' }),
      ),
    ).toBeUndefined();
    expect(lane.match(request('POST', `${org}/tasks`, { 'content-length': '1025' }))).toBeUndefined();
    expect(lane.match(request('POST', `${org}/assets/upload`, body))).toBeUndefined();
    expect(
      lane.match(request('DELETE', `${org}/members/0b9f2c1e-7d4a-4c3b-9a51-2f6e8d7c4b11`)),
    ).toBeUndefined();
    expect(lane.match(request('GET', `${org}/tasks`.replace('/api/', '/api/nope/')))).toBeUndefined();
    // tRPC: streamed batches, queries sent as POST, bodies not declared application/json.
    const trpcJson = { ...body, 'content-type': 'application/json' };
    expect(
      lane.match(
        request('POST', '/trpc/tasks.start?batch=1', { ...trpcJson, 'trpc-accept': 'application/jsonl' }),
      ),
    ).toBeUndefined();
    expect(lane.match(request('GET', '/trpc/users.me', { accept: 'application/jsonl' }))).toBeUndefined();
    expect(lane.match(request('POST', '/trpc/users.me', trpcJson))).toBeUndefined();
    expect(lane.match(request('POST', '/trpc/tasks.start', body))).toBeUndefined();
  });
});
