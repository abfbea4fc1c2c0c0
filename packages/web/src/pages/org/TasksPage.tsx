// Long-running tasks: start one, watch it live through tasks.follow (which resumes after a dropped
// connection from the last event it delivered: no event missed, none twice), cancel, history.
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import type { TaskEvent } from '@woopdi/sdk';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { errorMessage, fieldError } from '../../lib/errors';
import { atLeast, canExport } from '../../lib/roles';
import { trpc } from '../../lib/trpc';
import { woopdi } from '../../lib/woopdi';
import { Empty, ErrorNote, Field, formatDate, Loading, Page, ProgressBar } from '../../ui';
import { useOrg } from './OrgLayout';

type Kind = 'example_streaming' | 'org_export';
const LIVE = new Set(['queued', 'running']);

/** The events of a task while it runs; the follow resumes from the last one held (also across re-mounts). */
function useTaskEvents(taskId: string, live: boolean, onDone: () => void) {
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const last = useRef(0);
  const done = useRef(onDone);
  done.current = onDone;
  useEffect(() => {
    if (!live) return;
    const follow = woopdi.tasks.follow(taskId, {
      lastEventId: last.current,
      onEvent: (event) => {
        last.current = event.seq;
        setEvents((held) => [...held, event]);
      },
      onComplete: () => done.current(),
      onError: setError,
    });
    return () => follow.unsubscribe();
  }, [taskId, live]);
  return { events, error };
}

type TaskRow = {
  id: string;
  kind: string;
  status: string;
  progress: number;
  error: string | null;
  createdBy: string | null;
  createdAt: string;
  finishedAt: string | null;
  input: Record<string, unknown>;
  result: Record<string, unknown> | null;
};

function TaskItem({ task }: { task: TaskRow }) {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tasks.list.pathKey() });
  const { events, error } = useTaskEvents(task.id, LIVE.has(task.status), refresh);
  const cancel = useMutation({ ...trpc.tasks.cancel.mutationOptions(), onSuccess: refresh });
  const latest = events.at(-1);
  const progress = latest?.progress ?? (events.length ? undefined : task.progress);
  const status =
    latest?.type === 'task_end'
      ? 'succeeded'
      : latest?.type === 'task_error'
        ? (latest.data as { cancelled?: boolean } | undefined)?.cancelled
          ? 'cancelled'
          : 'failed'
        : latest
          ? 'running'
          : task.status;
  const shownProgress =
    progress ?? [...events].reverse().find((e) => e.progress !== undefined)?.progress ?? 0;
  const mayCancel = LIVE.has(status) && (task.createdBy === actor.userId || atLeast(actor.role, 'MODERATOR'));
  const label =
    task.kind === 'example_streaming'
      ? `Demo, ${String(task.input.steps ?? '')} steps`
      : 'Organization export';
  return (
    <li className="task card" data-task-id={task.id} data-status={status}>
      <div className="row">
        <strong>{label}</strong>
        <span className={`status status-${status}`}>{status}</span>
        <span className="muted">{formatDate(task.createdAt)}</span>
        {mayCancel && (
          <button
            type="button"
            className="small"
            disabled={cancel.isPending}
            onClick={() => cancel.mutate({ taskId: task.id })}
          >
            Cancel
          </button>
        )}
      </div>
      <ProgressBar value={status === 'succeeded' ? 1 : shownProgress} label={`Progress of ${label}`} />
      {latest?.message && <p className="muted">{latest.message}</p>}
      {task.error && <p className="error">{task.error}</p>}
      {status === 'succeeded' && task.kind === 'org_export' && (
        <p>
          The export is ready in <Link to={`/organizations/${organizationId}/files`}>Files</Link>.
        </p>
      )}
      <ErrorNote error={cancel.error} />
      {error ? (
        <p className="error" role="alert">
          Live updates stopped: {errorMessage(error)}
        </p>
      ) : null}
      {events.length > 0 && (
        <details>
          <summary>Events ({events.length})</summary>
          <ol className="events">
            {events.map((e) => (
              <li key={e.seq} data-seq={e.seq}>
                <code>#{e.seq}</code> {e.type} {e.message}
              </li>
            ))}
          </ol>
        </details>
      )}
    </li>
  );
}

function StartTask() {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const [kind, setKind] = useState<Kind>('example_streaming');
  const [steps, setSteps] = useState(10);
  const [intervalMs, setIntervalMs] = useState(500);
  const start = useMutation({
    ...trpc.tasks.start.mutationOptions(),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.tasks.list.pathKey() }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    start.mutate(
      kind === 'example_streaming'
        ? { organizationId, kind, input: { steps, intervalMs } }
        : { organizationId, kind, input: {} },
    );
  };
  return (
    <form onSubmit={submit} className="card inline-form" noValidate aria-labelledby="start-title">
      <h2 id="start-title">Start a task</h2>
      <Field label="Kind">
        {(p) => (
          <select {...p} value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
            <option value="example_streaming">Demo (progress steps)</option>
            {canExport(actor) && <option value="org_export">Organization export</option>}
          </select>
        )}
      </Field>
      {kind === 'example_streaming' && (
        <>
          <Field label="Steps" hint="1–600" error={fieldError(start.error, 'input.steps')}>
            {(p) => (
              <input
                {...p}
                type="number"
                min={1}
                max={600}
                value={steps}
                onChange={(e) => setSteps(Number(e.target.value))}
              />
            )}
          </Field>
          <Field label="Interval (ms)" hint="0–5000" error={fieldError(start.error, 'input.intervalMs')}>
            {(p) => (
              <input
                {...p}
                type="number"
                min={0}
                max={5000}
                step={100}
                value={intervalMs}
                onChange={(e) => setIntervalMs(Number(e.target.value))}
              />
            )}
          </Field>
        </>
      )}
      <button type="submit" className="primary" disabled={start.isPending}>
        Start
      </button>
      <ErrorNote error={start.error} />
    </form>
  );
}

export function TasksPage() {
  const { organizationId } = useOrg();
  const tasks = useInfiniteQuery(
    trpc.tasks.list.infiniteQueryOptions(
      { organizationId, limit: 20 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const rows = tasks.data?.pages.flatMap((page) => page.tasks) ?? [];
  return (
    <Page title="Tasks">
      <StartTask />
      <h2>History</h2>
      <ErrorNote error={tasks.error} />
      {tasks.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>No tasks yet: start one above.</Empty>
      ) : (
        <ul className="tasks">
          {rows.map((task) => (
            <TaskItem key={task.id} task={task} />
          ))}
        </ul>
      )}
      {tasks.hasNextPage && (
        <button type="button" onClick={() => void tasks.fetchNextPage()} disabled={tasks.isFetchingNextPage}>
          Show older tasks
        </button>
      )}
    </Page>
  );
}
