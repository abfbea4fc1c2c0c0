import { badRequest } from '@woopdi/core';
import { type SQL, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';

// Keyset cursors: opaque to clients, stable under inserts (unlike offsets).
export interface Cursor {
  at: Date;
  id: string;
}

export const encodeCursor = (c: Cursor) =>
  Buffer.from(JSON.stringify([c.at.toISOString(), c.id])).toString('base64url');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A cursor names a row that exists, so its time lies between these; anything else is forged, and
// JavaScript dates reach years Postgres refuses ("time zone displacement out of range").
const EARLIEST = Date.UTC(2000, 0, 1);
const latest = () => Date.now() + 24 * 3600 * 1000;

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string];
    const date = new Date(at);
    const t = date.getTime();
    if (Number.isNaN(t) || t < EARLIEST || t > latest() || typeof id !== 'string' || !UUID.test(id))
      throw new Error('bad cursor');
    return { at: date, id };
  } catch {
    throw badRequest('cursor: this cursor is not valid; use the nextCursor of the previous page.');
  }
}

/** Splits a page fetched with limit + 1 rows into the page and the next cursor. */
export function page<T>(rows: T[], limit: number, cursorOf: (row: T) => Cursor) {
  const items = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(cursorOf(items[items.length - 1]!)) : null;
  return { items, nextCursor: next };
}

/**
 * The keyset condition "after the cursor's row" in (at, id) order — ascending, or descending for
 * newest-first lists. Postgres keeps microseconds but the cursor's Date only milliseconds, so
 * comparing with `cursor.at` would return the cursor's own row again (an endless walk) or skip rows;
 * the row's exact timestamp is read back by its id instead (the cursor's time if the row is gone).
 */
export function keysetAfter(
  at: PgColumn,
  id: PgColumn,
  cursor: Cursor | undefined,
  order: 'asc' | 'desc',
): SQL | undefined {
  if (!cursor) return undefined;
  const exactAt = sql`coalesce((select ${at} from ${at.table} where ${id} = ${cursor.id}), ${cursor.at.toISOString()}::timestamptz)`;
  return order === 'asc'
    ? sql`(${at}, ${id}) > (${exactAt}, ${cursor.id}::uuid)`
    : sql`(${at}, ${id}) < (${exactAt}, ${cursor.id}::uuid)`;
}
