// graphile-worker keeps a crashed worker's job locks for 4 hours. Each process records a heartbeat
// for its graphile worker ids; live processes release the locks of workers whose heartbeat stopped,
// so a job of a killed worker is picked up again within seconds.
import type { Logger } from '@woopdi/core';
import { type Db, workerHeartbeats } from '@woopdi/db';
import { inArray, sql } from 'drizzle-orm';

export interface Liveness {
  /** How often this process records that its workers are alive. */
  heartbeatMs: number;
  /** After how long without a heartbeat a worker's locks are released. */
  deadAfterMs: number;
}

export const defaultLiveness: Liveness = { heartbeatMs: 5_000, deadAfterMs: 30_000 };

export function startHeartbeat(db: Db, logger: Logger, workerIds: () => string[], liveness: Liveness) {
  const beat = async () => {
    const ids = workerIds();
    if (ids.length > 0) {
      await db
        .insert(workerHeartbeats)
        .values(ids.map((workerId) => ({ workerId })))
        .onConflictDoUpdate({ target: workerHeartbeats.workerId, set: { lastSeenAt: sql`now()` } });
    }
    await reapDeadWorkers(db, logger, liveness.deadAfterMs);
  };
  const tick = () => beat().catch((err) => logger.warn({ err }, 'worker heartbeat failed'));
  void tick();
  const timer = setInterval(tick, liveness.heartbeatMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      const ids = workerIds();
      if (ids.length > 0)
        await db
          .delete(workerHeartbeats)
          .where(inArray(workerHeartbeats.workerId, ids))
          .catch(() => {});
    },
  };
}

/**
 * Releases jobs locked by workers with no fresh heartbeat (the lock itself must be older than the
 * threshold too, so a worker that just started is never robbed).
 */
export async function reapDeadWorkers(db: Db, logger: Logger, deadAfterMs: number): Promise<string[]> {
  const seconds = deadAfterMs / 1000;
  const rows = await db.execute<{ locked_by: string }>(sql`
    select distinct j.locked_by
    from graphile_worker._private_jobs j
    where j.locked_by is not null
      and j.locked_at < now() - make_interval(secs => ${seconds})
      and not exists (
        select 1 from ${workerHeartbeats} h
        where h.worker_id = j.locked_by and h.last_seen_at > now() - make_interval(secs => ${seconds})
      )`);
  const dead = rows.map((r) => r.locked_by);
  // Rows of processes that died holding no job would otherwise stay forever.
  await db.execute(
    sql`delete from ${workerHeartbeats} where last_seen_at < now() - make_interval(secs => ${seconds * 10})`,
  );
  if (dead.length === 0) return dead;
  // A JS array in drizzle's sql`` expands to a parenthesised list, not a Postgres array: build one.
  const ids = sql.join(
    dead.map((id) => sql`${id}`),
    sql`, `,
  );
  await db.execute(sql`select graphile_worker.force_unlock_workers(array[${ids}]::text[])`);
  await db.delete(workerHeartbeats).where(inArray(workerHeartbeats.workerId, dead));
  logger.warn({ workerIds: dead }, 'released the jobs of workers that stopped sending heartbeats');
  return dead;
}
