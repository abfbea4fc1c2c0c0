// Org-scoped areas written by `pnpm new:area` bring their own rows for the tenant-isolation matrix
// (tenant-isolation.test.ts reads the procedures from the router; these say how to call them): the
// rows of organization B an attack needs, seeded by B's owner; the input of each procedure built
// from B's ids; and a snapshot of B's rows that a refused call must leave exactly as they were.
// The generator adds one import and one entry per area (it inserts them by parsing this file).
import type { ServiceDeps } from '../../src/services/deps.js';
import type { callerFor } from '../../src/testing.js';

export type Caller = ReturnType<typeof callerFor>;

/** B's organization id and the ids the area's `seed` returned (e.g. `projectId`). */
export type AreaIds = { organizationId: string } & Record<string, string>;

export interface AreaEntry {
  input: (b: AreaIds) => Record<string, unknown>;
  /** A's organization with B's other ids: the row must be looked up within A, so NOT_FOUND. */
  mixed?: (b: AreaIds, a: { organizationId: string }) => Record<string, unknown>[];
}

export interface AreaMatrix {
  /** Creates B's rows of the area as B's owner; answers their ids by name. */
  seed(owner: Caller, organizationId: string): Promise<Record<string, string>>;
  /** One entry per query and mutation of the area, keyed by its dotted path (`projects.get`). */
  entries: Record<string, AreaEntry>;
  /** B's rows of the area, compared before and after the refused calls. */
  snapshot(deps: ServiceDeps, organizationId: string): Promise<unknown>;
}

export const AREA_MATRICES: Record<string, AreaMatrix> = {};
