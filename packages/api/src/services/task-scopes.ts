// A task never changes organization or kind: its scope (the organization, the role its kind needs)
// is kept per database in a bounded cache. The start that creates a task fills it, so a client that
// opens the task's stream on the same instance right after the POST skips a read; thousands of
// sockets following one task ask the database once.
import type { Db, OrgRole } from '@woopdi/db';
import { LRUCache } from 'lru-cache';

export interface TaskScope {
  organizationId: string;
  minRole: OrgRole;
}

const caches = new WeakMap<Db, LRUCache<string, TaskScope>>();

export function taskScopeCache(db: Db): LRUCache<string, TaskScope> {
  let cache = caches.get(db);
  if (!cache) {
    cache = new LRUCache<string, TaskScope>({ max: 10_000 });
    caches.set(db, cache);
  }
  return cache;
}
