import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeLabel } from '../src/http-metrics.js';
import { call, startTestServer, type TestServer } from './helpers.js';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
const auth = { headers: { authorization: `Bearer ${METRICS_TOKEN}` } };
let server: TestServer;
let open: TestServer;
beforeAll(async () => {
  server = await startTestServer({ METRICS_TOKEN });
  open = await startTestServer();
});
afterAll(async () => {
  await server.close();
  await open.close();
});
const scrape = async () => (await fetch(`${server.url}/metrics`, auth)).text();

/** The value of one series of a metric in Prometheus' text format, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line ? Number(line.split(' ').at(-1)) : 0;
}

it('exposes the named series in Prometheus format', async () => {
  const res = await fetch(`${server.url}/metrics`, auth);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  const text = await res.text();
  for (const name of [
    'woopdi_http_request_duration_seconds',
    'woopdi_websocket_connections',
    'woopdi_jobs_total',
    'woopdi_job_duration_seconds',
    'woopdi_tasks_total',
    'woopdi_event_bus_lag_seconds',
    'woopdi_process_resident_memory_bytes',
  ]) {
    expect(text, name).toContain(`# TYPE ${name} `);
  }
});

it('counts requests by route template and status, with ids folded out of the route', async () => {
  const count = async (route: string, status: string) =>
    sample(await scrape(), 'woopdi_http_request_duration_seconds_count', {
      route,
      status,
    });
  const route = '/api/organizations/{organizationId}';
  const before = await count(route, '401');
  for (let i = 0; i < 3; i++) {
    const res = await call(`${server.url}/api/organizations/00000000-0000-4000-8000-00000000000${i}`);
    expect(res.status).toBe(401);
  }
  expect(await count(route, '401')).toBe(before + 3);
});

it('labels tRPC calls by procedure, and batches as one', () => {
  expect(routeLabel({ url: '/trpc/organizations.get?input=%7B%7D' } as never)).toBe('trpc:organizations.get');
  expect(routeLabel({ url: '/trpc/users.me,organizations.get?batch=1' } as never)).toBe('trpc:batch');
  expect(routeLabel({ url: '/trpc/no.such.procedure' } as never)).toBe('unmatched');
  expect(routeLabel({ url: '/trpc/users.me,nope?batch=1' } as never)).toBe('unmatched');
  expect(routeLabel({ url: '/tasks/3b241101-e2bb-4255-8caf-4136c566a962/events' } as never)).toBe(
    '/tasks/:id/events',
  );
});

it('/metrics is never public: absent without METRICS_TOKEN, 401 without the right bearer token', async () => {
  const absent = await call(`${open.url}/metrics`);
  expect(absent.status).toBe(404);
  expect(absent.text).not.toContain('woopdi_');
  const none = await call(`${server.url}/metrics`);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect(none.body.message).toMatch(/METRICS_TOKEN/);
  expect(none.text).not.toContain('woopdi_');
  const wrong = await call(`${server.url}/metrics`, { token: `${METRICS_TOKEN}x` });
  expect(wrong.status).toBe(401);
  expect((await call(`${server.url}/metrics`, { token: METRICS_TOKEN })).status).toBe(200);
});

it('labels stay bounded: 300 distinct unknown paths add one "unmatched" label, not 300', async () => {
  const routes = (text: string) =>
    new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('woopdi_http_request_duration_seconds_count{'))
        .map((l) => /route="([^"]*)"/.exec(l)![1]),
    );
  const before = routes(await scrape());
  const probes = Array.from({ length: 300 }, (_, i) => {
    const kind = ['/no-such-page', '/api/no-such', '/trpc/no.such', '/tasks/x'][i % 4];
    return `${server.url}${kind}-${i}/${Math.random().toString(36).slice(2)}`;
  });
  for (let i = 0; i < probes.length; i += 30)
    await Promise.all(probes.slice(i, i + 30).map((u) => fetch(u).then((r) => r.arrayBuffer())));
  const after = routes(await scrape());
  const added = [...after].filter((r) => !before.has(r));
  expect(added.filter((r) => r !== 'unmatched' && r !== '/metrics')).toEqual([]);
  expect(after.has('unmatched')).toBe(true);
  expect(after.size).toBeLessThan(80);
});
