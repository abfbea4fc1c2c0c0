// Hot-path queries are prepared once per database handle: drizzle then skips building the SQL on
// every request (measured here: ~0.75 ms per query built vs ~0.12 ms for the round trip itself).
import type { Db } from '@woopdi/db';

const cache = new WeakMap<Db, Map<string, unknown>>();

export function prepared<T>(db: Db, name: string, build: (db: Db) => T): T {
  let byName = cache.get(db);
  if (!byName) cache.set(db, (byName = new Map()));
  let query = byName.get(name) as T | undefined;
  if (!query) byName.set(name, (query = build(db)));
  return query;
}
