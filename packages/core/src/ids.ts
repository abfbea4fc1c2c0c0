import { z } from 'zod';

/**
 * A row id as Postgres accepts it (any 8-4-4-4-12 hex), not only RFC 4122 versions: a valid row
 * must never fail a schema after its side effect (issue #11). The message still says UUID.
 */
export const uuid = () => z.guid({ error: 'Invalid UUID' });
