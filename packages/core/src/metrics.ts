// Prometheus metrics (prom-client), one registry per process: the api serves it at /metrics; a
// worker process serves it on METRICS_PORT when set; embedded mode has both roles in one registry.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'woopdi_' });

export const metrics = {
  httpDuration: new Histogram({
    name: 'woopdi_http_request_duration_seconds',
    help: 'HTTP request duration by route (tRPC procedure or REST path template) and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  websocketConnections: new Gauge({
    name: 'woopdi_websocket_connections',
    help: 'Open websocket connections (tRPC and plain task sockets)',
    registers: [registry],
  }),
  jobs: new Counter({
    name: 'woopdi_jobs_total',
    help: 'graphile-worker jobs run, by task and outcome',
    labelNames: ['task', 'outcome'] as const,
    registers: [registry],
  }),
  jobDuration: new Histogram({
    name: 'woopdi_job_duration_seconds',
    help: 'graphile-worker job run time, by task and outcome',
    labelNames: ['task', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [registry],
  }),
  tasks: new Counter({
    name: 'woopdi_tasks_total',
    help: 'Tasks that reached a final status, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  }),
  taskDuration: new Histogram({
    name: 'woopdi_task_duration_seconds',
    help: 'Time from a task starting to its final status, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [registry],
  }),
  busPublishFailures: new Counter({
    name: 'woopdi_event_bus_publish_failures_total',
    help: 'Task events stored but not published on the bus (followers catch up from Postgres)',
    registers: [registry],
  }),
  busReconnects: new Counter({
    name: 'woopdi_event_bus_reconnects_total',
    help: 'Times the bus subscriber connection came back (each followed task re-reads its events)',
    registers: [registry],
  }),
  taskStreamSubscriptions: new Gauge({
    name: 'woopdi_task_stream_subscriptions',
    help: 'Bus subscriptions held for followed tasks: one per task per process, shared by its followers',
    registers: [registry],
  }),
  taskStreamFollowers: new Gauge({
    name: 'woopdi_task_stream_followers',
    help: 'Open task event streams (plain websocket, SSE and tRPC subscriptions)',
    registers: [registry],
  }),
  slowStreamDrops: new Counter({
    name: 'woopdi_task_stream_slow_drops_total',
    help: 'Task event streams dropped because the client read too slowly (it resumes by last event id)',
    labelNames: ['transport'] as const,
    registers: [registry],
  }),
  busLag: new Histogram({
    name: 'woopdi_event_bus_lag_seconds',
    help: 'Time from a task event being written to a subscriber receiving it from the bus',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  }),
};
