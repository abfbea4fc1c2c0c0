// defineTask: binds a job name from core's contract to a handler that only ever sees a valid payload.

import type { TaskKind } from '@woopdi/core';
import {
  type Config,
  type EventBus,
  type HostResolver,
  type JobName,
  type JobPayload,
  jobPayloads,
  type Logger,
  type MailTransport,
  metrics,
  type Storage,
  type Stripe,
} from '@woopdi/core';
import type { Db } from '@woopdi/db';
import type { JobHelpers, Task } from 'graphile-worker';
import type { KindDefinition } from '../kinds/define.js';

export type KindDefinitions = { readonly [K in TaskKind]: KindDefinition<K> };

import type { z } from 'zod';

/** What every task may use; built once per worker process. */
export interface TaskDeps {
  db: Db;
  config: Config;
  logger: Logger;
  bus: EventBus;
  mailTransport: MailTransport;
  /** Files: where exports and generated images are stored. */
  storage: Storage;
  /** Set when STRIPE_SECRET_KEY is; the billing tasks need it. */
  stripe?: Stripe;
  /** The handler of each task kind (tests may swap one). */
  kinds: KindDefinitions;
  /** How webhook target hosts are resolved (the system resolver; tests inject one). */
  webhookResolver?: HostResolver;
}

/** A task's view of one job: the process's dependencies, a logger scoped to the job, graphile's helpers. */
export interface TaskContext extends TaskDeps {
  helpers: JobHelpers;
}

export type TaskHandler<N extends JobName> = (payload: JobPayload<N>, ctx: TaskContext) => Promise<void>;

export interface TaskDefinition<N extends JobName = JobName> {
  readonly name: N;
  /** The graphile-worker task for this process's dependencies. */
  createTask(deps: TaskDeps): Task;
}

/** The Stripe client, or an error that fails the job visibly (and retries it) when Stripe is not configured. */
export function requireStripe(deps: TaskDeps): Stripe {
  if (!deps.stripe) throw new Error('Stripe is not configured in this worker (set STRIPE_SECRET_KEY).');
  return deps.stripe;
}

/** A job whose payload does not match core's contract. Thrown, so graphile-worker records and retries it. */
export class InvalidJobPayloadError extends Error {
  override name = 'InvalidJobPayloadError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'payload'}: ${issue.message}`)
    .join('; ');
}

/**
 * Declares the handler of job `name`. The payload is validated with `jobPayloads[name]` before the
 * handler runs; an invalid one throws InvalidJobPayloadError (the job fails visibly with that
 * message in its last_error, and is retried: during a rolling deploy a newer worker may know the
 * payload). A handler that throws makes graphile-worker retry with exponential backoff up to the
 * job's max_attempts; returning means done.
 */
export function defineTask<N extends JobName>(name: N, handler: TaskHandler<N>): TaskDefinition<N> {
  const schema: z.ZodType<JobPayload<N>> = jobPayloads[name] as never;
  return {
    name,
    createTask(deps) {
      return async (payload, helpers) => {
        const parsed = schema.safeParse(payload);
        if (!parsed.success) {
          throw new InvalidJobPayloadError(
            `${name} job ${helpers.job.id} has an invalid payload: ${describeIssues(parsed.error)}`,
          );
        }
        const logger = deps.logger.child({
          task: name,
          jobId: helpers.job.id,
          attempt: helpers.job.attempts,
        });
        const started = performance.now();
        let outcome = 'failure';
        try {
          // Object.assign, not `{ ...deps, logger, helpers }`: V8 makes a hidden class per object
          // built that way (api's context.ts), one per job here.
          await handler(parsed.data, Object.assign({}, deps, { logger, helpers }));
          outcome = 'success';
        } finally {
          metrics.jobs.inc({ task: name, outcome });
          metrics.jobDuration.observe({ task: name, outcome }, (performance.now() - started) / 1000);
        }
      };
    },
  };
}
