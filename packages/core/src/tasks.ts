// Task kinds and the event format (DESIGN §6): a contract shared by the api (which validates and
// enqueues), the worker (which runs and reports) and clients (which stream events).
import type { OrgRole } from '@woopdi/db';
import { z } from 'zod';
import type { Feature } from './plans.js';

/**
 * What every kind declares: besides its input and retries, who may start it (`minRole`, checked by
 * tasks.start) and the plan feature it needs, if any (`entitlement`, 412 without it).
 */
export interface TaskKindDefinition {
  input: z.ZodType;
  maxAttempts: number;
  summary: string;
  minRole: OrgRole;
  entitlement: Feature | null;
}

export const taskKinds = {
  example_streaming: {
    input: z.object({
      steps: z.number().int().min(1).max(600).default(10),
      // 0: as fast as the events can be written (benchmarks, tests).
      intervalMs: z.number().int().min(0).max(5000).default(1000),
    }),
    maxAttempts: 3,
    summary: 'The demo: N steps, one progress event each.',
    minRole: 'MEMBER',
    entitlement: null,
  },
  org_export: {
    input: z.object({}).default({}),
    maxAttempts: 3,
    summary: "A JSON export of the organization's members, invitations and tasks, stored as an asset.",
    // Members' and invitees' emails and roles: what members.list and invitations.list show, so the
    // same role; the asset it creates is readable at this role only (assets.min_read_role).
    minRole: 'MODERATOR',
    entitlement: null,
  },
  generate_image: {
    input: z.object({
      prompt: z.string().trim().min(1).max(2000),
      guidance: z.number().min(0).max(20).optional(),
      steps: z.number().int().min(1).max(100).optional(),
    }),
    // Transient Replicate or network errors are retried; a prediction Replicate reports failed is not.
    maxAttempts: 4,
    summary:
      "An image from a text prompt (Replicate), stored as a PNG asset of the organization. Needs the Pro plan and a Replicate token (the organization secret REPLICATE_API_TOKEN, else the server's).",
    minRole: 'MEMBER',
    entitlement: 'ai_generation',
  },
} as const satisfies Record<string, TaskKindDefinition>;

export type TaskKind = keyof typeof taskKinds;
export const taskKindNames = Object.keys(taskKinds) as TaskKind[];
export type TaskInput<K extends TaskKind> = z.output<(typeof taskKinds)[K]['input']>;

/** `{ kind, input }` validated against the kind's schema: one discriminated union. */
export const taskStartSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('example_streaming'),
    input: taskKinds.example_streaming.input.default({ steps: 10, intervalMs: 1000 }),
  }),
  z.object({ kind: z.literal('org_export'), input: taskKinds.org_export.input }),
  z.object({ kind: z.literal('generate_image'), input: taskKinds.generate_image.input }),
]);
export type TaskStart = z.output<typeof taskStartSchema>;

export const taskEventTypes = [
  'task_start',
  'progress',
  'stage_start',
  'stage_end',
  'update',
  'task_end',
  'task_error',
] as const;
export type TaskEventType = (typeof taskEventTypes)[number];

export interface TaskEvent {
  taskId: string;
  seq: number;
  type: TaskEventType;
  message: string;
  /** 0..1 */
  progress?: number;
  current?: number;
  total?: number;
  data?: Record<string, unknown>;
  at: string;
}

export const isTerminalEvent = (type: string) => type === 'task_end' || type === 'task_error';
