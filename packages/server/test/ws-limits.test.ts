// Websocket and event-stream limits (issue #14, findings 11 and 12) against the real server over
// real sockets: a tRPC websocket frame over TRPC_MAX_BATCH_SIZE runs none of its calls; open
// connections are capped per user (WS_MAX_PER_USER) and per client address (WS_MAX_PER_ADDRESS)
// across /trpc, /tasks/{taskId}/ws and /tasks/{taskId}/events; a /trpc socket that sends nothing
// within WS_FIRST_MESSAGE_TIMEOUT_MS is closed. The server listens on loopback, a trusted proxy, so
// each test gives its connections their own client address with X-Forwarded-For.
import { callerFor } from '@woopdi/api/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

const MAX_PER_USER = 3;
const MAX_PER_ADDRESS = 4;
const FIRST_MESSAGE_MS = 400;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    WS_MAX_PER_USER: String(MAX_PER_USER),
    WS_MAX_PER_ADDRESS: String(MAX_PER_ADDRESS),
    WS_FIRST_MESSAGE_TIMEOUT_MS: String(FIRST_MESSAGE_MS),
  });
});

afterAll(async () => {
  await server?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(probe: () => boolean, what: string, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let lastAddress = 0;
/** A client address of its own (TEST-NET-3), so no test counts against another's. */
const newAddress = () => `203.0.113.${++lastAddress}`;

interface TrpcAnswer {
  id: number | string | null;
  result?: { type: string; data?: unknown };
  error?: { message: string; data?: { code?: string } };
}

interface Client {
  ws: WebSocket;
  answers: TrpcAnswer[];
  /** Resolves once open; rejects with the HTTP status and body when the upgrade is refused. */
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** The answer to call `id`, once it arrives. */
  answer(id: number): Promise<TrpcAnswer>;
}

class Refused extends Error {
  readonly status: number;
  readonly body: { code?: string; message?: string };

  constructor(status: number, body: { code?: string; message?: string }) {
    super(`refused with ${status}: ${body.message}`);
    this.status = status;
    this.body = body;
  }
}

function connect(path: string, address: string): Client {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}`, {
    headers: { 'x-forwarded-for': address },
  });
  const answers: TrpcAnswer[] = [];
  ws.on('message', (data) => {
    const text = data.toString();
    if (text === 'PING' || text === 'PONG') return;
    const parsed = JSON.parse(text) as TrpcAnswer | TrpcAnswer[];
    answers.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => reject(new Refused(res.statusCode ?? 0, JSON.parse(text || '{}'))));
    });
    ws.once('error', reject);
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return {
    ws,
    answers,
    opened,
    closed,
    send: (message) => ws.send(JSON.stringify(message)),
    async answer(id) {
      await waitFor(() => answers.some((a) => a.id === id), `the answer to call ${id}`);
      return answers.find((a) => a.id === id)!;
    },
  };
}

/** Why the connection was refused before the upgrade; fails when it was accepted. */
async function refusal(client: Client): Promise<Refused> {
  try {
    await client.opened;
  } catch (error) {
    expect(error).toBeInstanceOf(Refused);
    return error as Refused;
  }
  client.ws.close();
  throw new Error('expected the upgrade to be refused, but it was accepted');
}

const query = (id: number, path: string) => ({ id, jsonrpc: '2.0', method: 'query', params: { path } });

/** A /trpc socket that authenticates with connectionParams (as the SDK does) and has read users.me. */
async function signedInTrpc(token: string, address: string) {
  const client = connect('/trpc?connectionParams=1', address);
  await client.opened;
  client.send({ method: 'connectionParams', data: { token } });
  client.send(query(1, 'users.me'));
  return client;
}

async function owner() {
  const email = uniqueEmail('wslimits');
  const { tokens, user } = await callerFor(server.deps).auth.signup({ email, password: PASSWORD });
  const api = callerFor(server.deps, tokens.accessToken);
  const org = await api.organizations.create({ name: `Limits ${email.slice(9, 20)}` });
  // No worker runs in this file: the task stays queued and its streams stay open, waiting.
  const { taskId } = await api.tasks.start({
    organizationId: org.id,
    kind: 'example_streaming',
    input: { steps: 3, intervalMs: 10 },
  });
  return { token: tokens.accessToken, userId: user.id, taskId };
}

/** Closes `client`, then waits until the server has `remaining` websockets open (its side closed). */
const closeAndWait = async (client: Client, remaining: number) => {
  client.ws.close();
  await client.closed;
  // The server gives a slot back when its side of the socket closes.
  await waitFor(() => server.api.websockets.connections() === remaining, `${remaining} open websockets`);
};

describe('tRPC websocket batches (TRPC_MAX_BATCH_SIZE, default 20)', () => {
  it('refuses a frame of 21 calls with BAD_REQUEST for each id, naming the limit, and runs none', async () => {
    const client = connect('/trpc', newAddress());
    await client.opened;
    const email = uniqueEmail('wsbatch');
    const frame = Array.from({ length: 21 }, (_, i) => ({
      id: i + 1,
      jsonrpc: '2.0',
      method: 'mutation',
      params: { path: 'auth.signup', input: { email: `${i}${email}`, password: PASSWORD } },
    }));
    client.send(frame);
    await waitFor(() => client.answers.length >= 21, '21 answers');
    expect(client.answers.map((a) => a.id).sort((a, b) => Number(a) - Number(b))).toEqual(
      frame.map((c) => c.id),
    );
    for (const answer of client.answers) {
      expect(answer.result).toBeUndefined();
      expect(answer.error?.data?.code).toBe('BAD_REQUEST');
      expect(answer.error?.message).toMatch(/at most 20 calls, this one has 21/);
    }
    // Had any call run, a user would exist (or be on its way: give it the time to).
    await sleep(200);
    const rows = await server.deps.sql<{ n: number }[]>`
      select count(*)::int as n from users where email like ${`%${email}`}`;
    expect(rows[0]?.n).toBe(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);

    // The same socket goes on: a frame at the cap is answered call by call.
    client.answers.length = 0;
    client.send(Array.from({ length: 20 }, (_, i) => query(100 + i, 'system.settings')));
    await waitFor(() => client.answers.length >= 20, '20 answers');
    expect(client.answers.every((a) => a.result?.type === 'data' && a.error === undefined)).toBe(true);
    client.ws.close();
  });
});

describe(`open connections per user (WS_MAX_PER_USER=${MAX_PER_USER})`, () => {
  it('refuses the connection over the cap on every route while the earlier ones keep working', async () => {
    const o = await owner();
    // Each connection from an address of its own: only the per-user count is in play.
    const first = await signedInTrpc(o.token, newAddress());
    const second = await signedInTrpc(o.token, newAddress());
    expect((await first.answer(1)).result?.data).toMatchObject({ id: o.userId });
    expect((await second.answer(1)).result?.data).toMatchObject({ id: o.userId });
    const taskSocket = connect(`/tasks/${o.taskId}/ws?token=${o.token}`, newAddress());
    await taskSocket.opened;

    // A 4th over tRPC: its user is known from connectionParams, after the upgrade: close 1013.
    const fourth = await signedInTrpc(o.token, newAddress());
    const closed = await fourth.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/too many open connections for your account \(at most 3\)/);
    expect(fourth.answers.some((a) => a.result !== undefined)).toBe(false);

    // Over the plain websocket and SSE, the user is known before the upgrade: 429.
    const refusedSocket = await refusal(connect(`/tasks/${o.taskId}/ws?token=${o.token}`, newAddress()));
    expect(refusedSocket.status).toBe(429);
    expect(refusedSocket.body).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(refusedSocket.body.message).toMatch(/for your account: at most 3 websockets and event streams/);
    const sse = await fetch(`${server.url}/tasks/${o.taskId}/events`, {
      headers: { authorization: `Bearer ${o.token}`, 'x-forwarded-for': newAddress() },
    });
    expect(sse.status).toBe(429);
    expect(((await sse.json()) as { message: string }).message).toMatch(/for your account: at most 3/);

    // The earlier connections are untouched.
    first.send(query(2, 'users.me'));
    second.send(query(2, 'users.me'));
    expect((await first.answer(2)).result?.data).toMatchObject({ id: o.userId });
    expect((await second.answer(2)).result?.data).toMatchObject({ id: o.userId });
    expect(taskSocket.ws.readyState).toBe(WebSocket.OPEN);

    // Closing one frees its slot: a new socket of the same user now works.
    // Open now: first, second and the task socket (the refused ones are closed).
    await closeAndWait(second, 2);
    const again = await signedInTrpc(o.token, newAddress());
    expect((await again.answer(1)).result?.data).toMatchObject({ id: o.userId });
    await sleep(50);
    expect(again.ws.readyState).toBe(WebSocket.OPEN);

    // Another user is not affected by this one's connections.
    const other = await owner();
    const theirs = await signedInTrpc(other.token, newAddress());
    expect((await theirs.answer(1)).result?.data).toMatchObject({ id: other.userId });

    for (const c of [first, again, taskSocket, theirs]) c.ws.close();
  });
});

describe(`open connections per client address (WS_MAX_PER_ADDRESS=${MAX_PER_ADDRESS})`, () => {
  it('refuses a connection over the cap with 429 before any authentication; closing one frees a slot', async () => {
    const address = newAddress();
    const open: Client[] = [];
    for (let i = 0; i < MAX_PER_ADDRESS; i++) {
      const client = connect('/trpc?connectionParams=1', address);
      await client.opened;
      // Signed out but speaking: a legitimate public socket.
      client.send({ method: 'connectionParams', data: {} });
      open.push(client);
    }

    const refused = await refusal(connect('/trpc', address));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(refused.body.message).toMatch(
      /from your address: at most 4 websockets and event streams at once\. Close one, then retry/,
    );
    // Counted before authentication: no token, yet 429 rather than 401.
    expect((await refusal(connect('/tasks/some-task/ws', address))).status).toBe(429);
    const sse = await fetch(`${server.url}/tasks/some-task/events`, {
      headers: { 'x-forwarded-for': address },
    });
    expect(sse.status).toBe(429);

    // Another address is not affected, and the open sockets still answer.
    const elsewhere = connect('/trpc', newAddress());
    await elsewhere.opened;
    elsewhere.ws.close();
    open[0]!.send(query(1, 'system.settings'));
    expect((await open[0]!.answer(1)).result?.type).toBe('data');

    await closeAndWait(open.pop()!, MAX_PER_ADDRESS - 1);
    const replacement = connect('/trpc', address);
    await replacement.opened;
    replacement.send(query(1, 'system.settings'));
    expect((await replacement.answer(1)).result?.type).toBe('data');

    for (const c of [...open, replacement]) c.ws.close();
  });
});

describe(`a silent /trpc socket (WS_FIRST_MESSAGE_TIMEOUT_MS=${FIRST_MESSAGE_MS})`, () => {
  it('is closed with 1008 when it sends nothing in time; one that sent connectionParams stays open', async () => {
    const address = newAddress();
    const start = Date.now();
    const silent = connect('/trpc', address);
    const speaking = connect('/trpc?connectionParams=1', address);
    await Promise.all([silent.opened, speaking.opened]);
    speaking.send({ method: 'connectionParams', data: {} });

    const closed = await silent.closed;
    expect(Date.now() - start).toBeGreaterThanOrEqual(FIRST_MESSAGE_MS - 5);
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/nothing sent within 400 ms: send connectionParams or a call first/);

    await sleep(FIRST_MESSAGE_MS);
    expect(speaking.ws.readyState).toBe(WebSocket.OPEN);
    speaking.send(query(1, 'system.settings'));
    expect((await speaking.answer(1)).result?.type).toBe('data');
    speaking.ws.close();
  });

  it('keeps a socket whose first message is a call (a public client without connectionParams)', async () => {
    const client = connect('/trpc', newAddress());
    await client.opened;
    client.send(query(1, 'system.settings'));
    expect((await client.answer(1)).result?.type).toBe('data');
    await sleep(FIRST_MESSAGE_MS * 2);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.ws.close();
  });
});
