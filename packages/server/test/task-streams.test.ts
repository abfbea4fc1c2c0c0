// The plain live-event routes of a task against the real server, Postgres, bus and worker:
// `GET /tasks/{taskId}/events` (SSE, read with plain fetch) and `/tasks/{taskId}/ws` (websocket
// with JSON frames), plus access loss over tRPC. Every test runs twice: on the in-process bus and
// on the Redis bus (when the test run has Redis: the global setup falls back to 127.0.0.1:6379, so
// unsetting TEST_REDIS_URL alone does not select the in-process bus).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  createTRPCClient,
  createWSClient,
  TRPCClientError,
  type WebSocketClientOptions,
  wsLink,
} from '@trpc/client';
import type { AppRouter } from '@woopdi/api';
import { callerFor, createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { createMemoryBus, type TaskEvent } from '@woopdi/core';
import { startWorker, type WorkerHandle } from '@woopdi/worker';
import express from 'express';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type ApiServer, createRuntime, type Runtime, startApiServer } from '../src/index.js';
import { taskEventsSse } from '../src/task-sse.js';
import { PASSWORD, uniqueEmail } from './helpers.js';

let deps: TestDeps;
let runtime: Runtime;
let server: ApiServer;
let worker: WorkerHandle;

const buses = inject('testRedisUrl') ? (['memory', 'redis'] as const) : (['memory'] as const);

/** The server, the worker and the test share one bus: in-process, or Redis (createTestDeps' own). */
async function start(bus: 'memory' | 'redis') {
  const base = await createTestDeps();
  deps = bus === 'memory' ? { ...base, bus: createMemoryBus() } : base;
  expect(deps.bus.kind).toBe(bus);
  runtime = createRuntime(deps.config, deps.databaseUrl, deps.logger, deps.bus);
  server = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
  worker = await startWorker({ ...deps, pollInterval: 50 });
}

async function stop() {
  await worker?.stop();
  await server?.stop();
  await runtime?.close();
  await deps?.close();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(
  probe: () => Promise<T | false | undefined>,
  what: string,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function user() {
  const email = uniqueEmail('streams');
  const { tokens, user } = await callerFor(deps).auth.signup({ email, password: PASSWORD });
  return { email, token: tokens.accessToken, userId: user.id, api: callerFor(deps, tokens.accessToken) };
}

/** An owner with a team organization. */
async function owner() {
  const u = await user();
  const org = await u.api.organizations.create({ name: `Streams ${u.email.slice(8, 20)}` });
  return { ...u, org };
}

/** A new person invited to `org` as a MEMBER who accepted. */
async function memberOf(admin: Awaited<ReturnType<typeof owner>>) {
  const email = uniqueEmail('member');
  await admin.api.invitations.create({ organizationId: admin.org.id, email, role: 'MEMBER' });
  const [row] = await deps.sql<{ payload: { url: string } }[]>`
    select payload from email_outbox where "to" = ${email} and template = 'invitation'
    order by created_at desc limit 1`;
  const token = new URL(row!.payload.url).searchParams.get('token')!;
  const accepted = await callerFor(deps).invitations.accept({ token, password: PASSWORD });
  return {
    email,
    token: accepted.tokens!.accessToken,
    userId: accepted.user.id,
    api: callerFor(deps, accepted.tokens!.accessToken),
  };
}

async function startTask(
  api: ReturnType<typeof callerFor>,
  organizationId: string,
  steps: number,
  intervalMs = 10,
) {
  const { taskId } = await api.tasks.start({
    organizationId,
    kind: 'example_streaming',
    input: { steps, intervalMs },
  });
  return taskId;
}

async function finished(api: ReturnType<typeof callerFor>, taskId: string) {
  return waitFor(async () => {
    const t = await api.tasks.get({ taskId });
    return t.status !== 'queued' && t.status !== 'running' && t;
  }, `task ${taskId} to finish`);
}

interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comments: string[];
  retry?: string;
}

/** Reads an SSE response body with plain fetch until it ends (or `stopWhen` says so), parsing frames. */
async function readSse(res: Response, stopWhen?: (frames: SseFrame[]) => boolean): Promise<SseFrame[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const frames: SseFrame[] = [];
  let buffer = '';
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: SseFrame = { comments: [] };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comments.push(line.slice(1).trim());
        else {
          const i = line.indexOf(':');
          const field = line.slice(0, i);
          const v = line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') frame.data = frame.data === undefined ? v : `${frame.data}\n${v}`;
          else if (field === 'id' || field === 'event' || field === 'retry') frame[field] = v;
        }
      }
      frames.push(frame);
      end = buffer.indexOf('\n\n');
    }
    if (stopWhen?.(frames)) {
      await reader.cancel();
      break;
    }
  }
  return frames;
}

const eventsOf = (frames: SseFrame[]) =>
  frames
    .filter((f) => f.data !== undefined && f.event !== 'error')
    .map((f) => JSON.parse(f.data!) as TaskEvent);

const seqs = (events: { seq: number }[]) => events.map((e) => e.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface WsResult {
  events: TaskEvent[];
  frames: string[];
  code: number;
  reason: string;
}

/** Opens the plain task websocket and collects its frames until it closes. */
function openTaskSocket(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  const closed = new Promise<WsResult>((resolve, reject) => {
    ws.once('close', (code, reason) =>
      resolve({
        frames,
        events: frames.map((f) => JSON.parse(f) as TaskEvent),
        code,
        reason: String(reason),
      }),
    );
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c;
      });
      res.on('end', () =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })),
      );
    });
    ws.once('error', (error) => {
      if (!(error as Error).message.startsWith('Unexpected server response')) reject(error);
    });
  });
  return { ws, frames, closed };
}

const wsUrl = (path: string) => `${server.url.replace('http', 'ws')}${path}`;

describe.each(buses)('on the %s bus', (bus) => {
  beforeAll(() => start(bus));
  afterAll(stop);

  describe('GET /tasks/{taskId}/events (SSE)', () => {
    it('streams every event as id/event/data frames and ends after task_end', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 5);
      const res = await fetch(`${server.url}/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${o.token}` },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('cache-control')).toContain('no-cache');
      const frames = await readSse(res);
      const events = eventsOf(frames);
      expect(seqs(events)).toEqual(range(1, 7));
      expect(events.map((e) => e.type)).toEqual(['task_start', ...Array(5).fill('progress'), 'task_end']);
      for (const f of frames.filter((x) => x.data)) {
        const e = JSON.parse(f.data!) as TaskEvent;
        expect(f.id).toBe(String(e.seq));
        expect(f.event).toBe(e.type);
        expect(e.taskId).toBe(taskId);
      }
      expect(events.at(-1)).toMatchObject({ type: 'task_end', data: { steps: 5 } });
    });

    it('honours Last-Event-ID (and ?token= / ?lastEventId= for EventSource clients)', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 6);
      await finished(o.api, taskId);
      const total = 8;
      for (const k of [0, 3, 7]) {
        const res = await fetch(`${server.url}/tasks/${taskId}/events`, {
          headers: { authorization: `Bearer ${o.token}`, 'last-event-id': String(k) },
        });
        expect(res.status).toBe(200);
        expect(seqs(eventsOf(await readSse(res)))).toEqual(range(k + 1, total));
      }
      const viaQuery = await fetch(`${server.url}/tasks/${taskId}/events?token=${o.token}&lastEventId=5`);
      expect(viaQuery.status).toBe(200);
      expect(seqs(eventsOf(await readSse(viaQuery)))).toEqual([6, 7, 8]);
    });

    it('resumes a live task from Last-Event-ID without a gap or a duplicate', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 20, 20);
      const first = await fetch(`${server.url}/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${o.token}` },
      });
      const head = eventsOf(await readSse(first, (frames) => eventsOf(frames).length >= 5));
      const k = head.at(-1)!.seq;
      const rest = await fetch(`${server.url}/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${o.token}`, 'last-event-id': String(k) },
      });
      const tail = eventsOf(await readSse(rest));
      expect([...seqs(head), ...seqs(tail)]).toEqual(range(1, 22));
    });

    it('answers 204 to a reconnect after the terminal event (EventSource stops reconnecting)', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 2);
      const task = await finished(o.api, taskId);
      const res = await fetch(`${server.url}/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${o.token}`, 'last-event-id': String(task.lastEventId) },
      });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
    });

    it('refuses with the REST API JSON errors: 401 anonymous or bad token, 404 non-member or unknown task, 400 bad Last-Event-ID', async () => {
      const o = await owner();
      const stranger = await user();
      const taskId = await startTask(o.api, o.org.id, 1);
      const url = `${server.url}/tasks/${taskId}/events`;

      const anonymous = await fetch(url);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('content-type')).toMatch(/application\/json/);
      expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHORIZED', message: expect.any(String) });

      const badToken = await fetch(`${url}?token=not-a-jwt`);
      expect(badToken.status).toBe(401);
      expect(await badToken.json()).toMatchObject({ code: 'UNAUTHORIZED' });

      const nonMember = await fetch(url, { headers: { authorization: `Bearer ${stranger.token}` } });
      expect(nonMember.status).toBe(404);
      expect(await nonMember.json()).toMatchObject({ code: 'NOT_FOUND', message: 'Task not found.' });

      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const unknown = await fetch(`${server.url}/tasks/${id}/events`, {
          headers: { authorization: `Bearer ${o.token}` },
        });
        expect(unknown.status).toBe(404);
        expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
      }

      const badId = await fetch(url, {
        headers: { authorization: `Bearer ${o.token}`, 'last-event-id': 'abc' },
      });
      expect(badId.status).toBe(400);
      expect(await badId.json()).toMatchObject({ code: 'BAD_REQUEST' });
    });

    it('sends a comment heartbeat while nothing happens', async () => {
      const app = express();
      app.get('/tasks/:taskId/events', taskEventsSse(deps, { heartbeatMs: 50 }));
      const http = app.listen(0, '127.0.0.1');
      await once(http, 'listening');
      try {
        const o = await owner();
        const taskId = await startTask(o.api, o.org.id, 3, 1000);
        const res = await fetch(
          `http://127.0.0.1:${(http.address() as AddressInfo).port}/tasks/${taskId}/events`,
          {
            headers: { authorization: `Bearer ${o.token}` },
          },
        );
        const frames = await readSse(
          res,
          (f) => f.filter((x) => x.comments.includes('heartbeat')).length >= 2,
        );
        expect(frames.filter((x) => x.comments.includes('heartbeat')).length).toBeGreaterThanOrEqual(2);
        await o.api.tasks.cancel({ taskId });
      } finally {
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      }
    });
  });

  describe('/tasks/{taskId}/ws (plain websocket)', () => {
    it('sends each event as one JSON text frame and closes with 1000 after task_end', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 5);
      const { closed } = openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=${o.token}`));
      const result = await closed;
      expect(result.code).toBe(1000);
      expect(seqs(result.events)).toEqual(range(1, 7));
      expect(result.events[0]).toMatchObject({
        taskId,
        seq: 1,
        type: 'task_start',
        message: expect.any(String),
        at: expect.any(String),
      });
      expect(result.events.at(-1)).toMatchObject({ type: 'task_end', data: { steps: 5 } });
    });

    it('accepts the Authorization header and resumes from ?lastEventId=', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 4);
      await finished(o.api, taskId);
      const { closed } = openTaskSocket(wsUrl(`/tasks/${taskId}/ws?lastEventId=2`), {
        authorization: `Bearer ${o.token}`,
      });
      const result = await closed;
      expect(result.code).toBe(1000);
      expect(seqs(result.events)).toEqual([3, 4, 5, 6]);
    });

    it('closes with 1000 at once when ?lastEventId= is already the terminal event', async () => {
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 2);
      const task = await finished(o.api, taskId);
      const result = await openTaskSocket(
        wsUrl(`/tasks/${taskId}/ws?token=${o.token}&lastEventId=${task.lastEventId}`),
      ).closed;
      expect(result).toMatchObject({ code: 1000, events: [] });
    });

    it('refuses the upgrade with HTTP 401 for a bad or missing token and 404 for a non-member', async () => {
      const o = await owner();
      const stranger = await user();
      const taskId = await startTask(o.api, o.org.id, 1);
      await expect(openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=bogus`)).closed).rejects.toMatchObject({
        status: 401,
        body: expect.stringContaining('UNAUTHORIZED'),
      });
      await expect(openTaskSocket(wsUrl(`/tasks/${taskId}/ws`)).closed).rejects.toMatchObject({
        status: 401,
      });
      await expect(
        openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=${stranger.token}`)).closed,
      ).rejects.toMatchObject({
        status: 404,
        body: expect.stringContaining('NOT_FOUND'),
      });
      // Other upgrade paths still get 404; /trpc is untouched.
      await expect(openTaskSocket(wsUrl('/tasks/ws')).closed).rejects.toMatchObject({ status: 404 });
    });

    it("closes with 1012 when the server stops (the gateway's close covers these sockets)", async () => {
      const second = await startApiServer(runtime, { port: 0, host: '127.0.0.1' });
      const o = await owner();
      const taskId = await startTask(o.api, o.org.id, 300, 20);
      const socket = openTaskSocket(
        `${second.url.replace('http', 'ws')}/tasks/${taskId}/ws?token=${o.token}`,
      );
      await waitFor(async () => socket.frames.length > 0, 'a first frame');
      expect(second.websockets.connections()).toBe(1);
      await second.stop();
      const result = await socket.closed;
      expect(result.code).toBe(1012);
      await o.api.tasks.cancel({ taskId });
    });
  });

  describe('a member removed from the organization mid-stream', () => {
    it('is cut off everywhere: tRPC FORBIDDEN, plain websocket 1008, SSE error frame', async () => {
      const o = await owner();
      const m = await memberOf(o);
      const taskId = await startTask(o.api, o.org.id, 300, 20);

      const wsClient = createWSClient({
        url: wsUrl('/trpc'),
        WebSocket: WebSocket as unknown as WebSocketClientOptions['WebSocket'],
        connectionParams: { token: m.token },
      });
      const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
      const trpcEvents: TaskEvent[] = [];
      const trpcError = new Promise<unknown>((resolve, reject) => {
        trpc.tasks.events.subscribe(
          { taskId },
          {
            onData: ({ data }) => void trpcEvents.push(data as TaskEvent),
            onError: resolve,
            onComplete: () => reject(new Error('completed instead of failing')),
          },
        );
      });

      const socket = openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=${m.token}`));
      const sse = await fetch(`${server.url}/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${m.token}` },
      });
      expect(sse.status).toBe(200);
      const sseFrames = readSse(sse);

      try {
        await waitFor(
          async () => trpcEvents.length >= 2 && socket.frames.length >= 2,
          'events on every stream',
        );
        await o.api.members.remove({ organizationId: o.org.id, userId: m.userId });

        const error = await trpcError;
        expect(error).toBeInstanceOf(TRPCClientError);
        expect((error as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');

        const result = await socket.closed;
        expect(result.code).toBe(1008);
        expect(result.reason).toMatch(/no longer have access/);

        const frames = await sseFrames;
        const last = frames.at(-1)!;
        expect(last.event).toBe('error');
        expect(JSON.parse(last.data!)).toMatchObject({ code: 'FORBIDDEN' });
        expect(eventsOf(frames).some((e) => e.type === 'task_end')).toBe(false);

        // And they cannot come back.
        const again = await fetch(`${server.url}/tasks/${taskId}/events`, {
          headers: { authorization: `Bearer ${m.token}` },
        });
        expect(again.status).toBe(404);
      } finally {
        await wsClient.close();
        await o.api.tasks.cancel({ taskId }).catch(() => undefined);
      }
    });
  });

  describe('an organization API key revoked mid-stream', () => {
    it("ends that key's streams (tRPC FORBIDDEN, websocket 1008); other keys' outlive their creator's sign-ins", async () => {
      const o = await owner();
      const { key, apiKey } = await o.api.apiKeys.create({
        organizationId: o.org.id,
        name: 'stream follower',
        role: 'MEMBER',
      });
      const other = await o.api.apiKeys.create({ organizationId: o.org.id, name: 'kept', role: 'MEMBER' });
      const taskId = await startTask(o.api, o.org.id, 300, 20);

      const wsClient = createWSClient({
        url: wsUrl('/trpc'),
        WebSocket: WebSocket as unknown as WebSocketClientOptions['WebSocket'],
        connectionParams: { token: key },
      });
      const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient })] });
      let keyEvents = 0;
      const trpcError = new Promise<unknown>((resolve, reject) => {
        trpc.tasks.events.subscribe(
          { taskId },
          {
            onData: () => void keyEvents++,
            onError: resolve,
            onComplete: () => reject(new Error('completed instead of failing')),
          },
        );
      });
      const keySocket = openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=${key}`));
      // The creator's own stream of the same task, and their user events, go on.
      const ownerSocket = openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=${o.token}`));
      const otherSocket = openTaskSocket(wsUrl(`/tasks/${taskId}/ws?token=${other.key}`));
      try {
        await waitFor(
          async () =>
            keyEvents >= 2 &&
            keySocket.frames.length >= 2 &&
            ownerSocket.frames.length >= 2 &&
            otherSocket.frames.length >= 2,
          'events on every stream',
        );
        await o.api.apiKeys.revoke({ organizationId: o.org.id, apiKeyId: apiKey.id });

        const error = await trpcError;
        expect((error as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');
        expect((error as Error).message).toMatch(/API key was revoked/);
        const closed = await keySocket.closed;
        expect(closed.code).toBe(1008);
        expect(closed.reason).toMatch(/API key was revoked/);

        const seen = ownerSocket.frames.length;
        await waitFor(async () => ownerSocket.frames.length > seen + 2, "the creator's stream going on");
        expect(await o.api.users.me()).toMatchObject({ id: o.userId });

        // Signing out everywhere ends the creator's streams, not those of the keys they created.
        await o.api.auth.logout({ everywhere: true });
        expect((await ownerSocket.closed).code).toBe(1008);
        const otherSeen = otherSocket.frames.length;
        await waitFor(
          async () => otherSocket.frames.length > otherSeen + 2,
          "the other key's stream going on",
        );
      } finally {
        await wsClient.close();
        ownerSocket.ws.close();
        otherSocket.ws.close();
        await o.api.tasks.cancel({ taskId }).catch(() => undefined);
      }
    });
  });
});
