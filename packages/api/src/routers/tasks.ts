import { tracked } from '@trpc/server';
import { type TaskEvent, taskKindNames, taskKinds, uuid } from '@woopdi/core';
import { z } from 'zod';
import { cursor, limit, task, taskStatus } from '../schemas.js';
import { openTaskEvents } from '../services/task-stream.js';
import * as tasks from '../services/tasks.js';
import { mapStreamErrors, orgProcedure, orgResourceProcedure, router } from '../trpc.js';

const tags = ['tasks'];
const kind = z.enum(taskKindNames as [keyof typeof taskKinds, ...(keyof typeof taskKinds)[]]);
// A task below the caller's role for its kind (an org_export to a MEMBER) is NOT_FOUND.
const byTask = orgResourceProcedure('taskId', 'Task', 'MEMBER', (ctx, id) => tasks.taskScope(ctx, id));

const kindsDescription = Object.entries(taskKinds)
  .map(([name, k]) => `\`${name}\` (${k.minRole} or higher): ${k.summary}`)
  .join(' ');

export const tasksRouter = router({
  start: orgProcedure('MEMBER')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/tasks',
        tags,
        summary: 'Start a long-running task',
        description: `The body is one of the kinds below (\`oneOf\` by \`kind\`): \`input\` is validated against that kind's schema (400 naming each field), then the task is queued. 403 below the kind's role; 429 (Retry-After) past RATE_LIMIT_TASK_STARTS starts per user; 412 without the kind's plan feature, or when the organization's tasks queued or running fill its plan's limit (PLAN_FREE_CONCURRENT_TASKS, PLAN_PRO_CONCURRENT_TASKS). Follow it live with the \`tasks.events\` subscription, \`GET /tasks/{taskId}/events\` (SSE) or \`/tasks/{taskId}/ws\` (websocket). Kinds: ${kindsDescription}`,
      },
    })
    .input(
      z.object({
        organizationId: uuid(),
        kind,
        input: z.record(z.string(), z.unknown()).default({}),
      }),
    )
    .output(z.object({ taskId: uuid(), status: taskStatus }))
    .mutation(({ ctx, input }) => tasks.startTask(ctx, ctx.membership, input)),

  get: byTask
    .meta({
      openapi: {
        method: 'GET',
        path: '/tasks/{taskId}',
        tags,
        summary: "A task's status, progress (0..1), result and error",
      },
    })
    .input(z.object({ taskId: uuid() }))
    .output(task)
    .query(({ ctx, input }) => tasks.getTask(ctx, ctx.membership, input.taskId)),

  list: orgProcedure('MEMBER')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/tasks',
        tags,
        summary: "The organization's tasks, newest first",
      },
    })
    .input(
      z.object({
        organizationId: uuid(),
        status: taskStatus.optional(),
        kind: kind.optional(),
        limit,
        cursor,
      }),
    )
    .output(z.object({ tasks: z.array(task), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) => tasks.listTasks(ctx, ctx.membership, input)),

  cancel: byTask
    .meta({
      openapi: {
        method: 'POST',
        path: '/tasks/{taskId}/cancel',
        tags,
        summary: 'Cancel a task',
        description:
          'The member who started it, or a MODERATOR or ADMIN. A queued task ends at once; a running one within one step. 409 if it already finished.',
      },
    })
    .input(z.object({ taskId: uuid() }))
    .output(task)
    .mutation(({ ctx, input }) => tasks.cancelTask(ctx, ctx.membership, input.taskId)),

  /**
   * Live events of a task, resumable: pass the last seen event id (its `seq`) as `lastEventId`
   * (the SDK and SSE clients do it for you on reconnect). Ends after task_end / task_error.
   */
  events: byTask
    .input(z.object({ taskId: uuid(), lastEventId: z.coerce.number().int().min(0).optional() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const stream = await openTaskEvents(
        ctx,
        {
          taskId: input.taskId,
          organizationId: ctx.membership.organizationId,
          userId: ctx.session.userId,
          familyId: ctx.session.familyId,
        },
        input.lastEventId ?? 0,
        signal,
      );
      for await (const event of mapStreamErrors<TaskEvent>(stream)) yield tracked(String(event.seq), event);
    }),
});
