import { afterAll, beforeAll, expect, it } from 'vitest';
import { routeLabel } from '../src/http-metrics.js';
import { call, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

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
  const res = await fetch(`${server.url}/metrics`);
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

it('counts requests by route and status, with ids folded out of the route', async () => {
  const count = async (route: string, status: string) =>
    sample(
      await (await fetch(`${server.url}/metrics`)).text(),
      'woopdi_http_request_duration_seconds_count',
      {
        route,
        status,
      },
    );
  const route = '/api/organizations/:id';
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
  expect(routeLabel({ url: '/tasks/3b241101-e2bb-4255-8caf-4136c566a962/events' } as never)).toBe(
    '/tasks/:id/events',
  );
});
