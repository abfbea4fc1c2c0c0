// What a task kind needs before it may start (beyond its input schema), read from its definition in
// core's registry: the role (403) and the plan feature and other prerequisites (412). Checked in
// tasks.start so a task that cannot run is refused at once instead of failing later in the worker.
import {
  forbidden,
  preconditionFailed,
  replicateTokenFor,
  type TaskKind,
  type TaskKindDefinition,
  taskKinds,
} from '@woopdi/core';
import { hasOrgRole, type Membership } from '../middleware/membership.js';
import type { ServiceDeps } from './deps.js';
import { assertFeature, type Entitlements } from './entitlements.js';

/** FORBIDDEN, naming the role needed, unless the caller's role reaches the kind's `minRole`. */
export function assertMayStart(actor: Membership, kind: TaskKind): void {
  const { minRole } = taskKinds[kind];
  if (!hasOrgRole(actor.role, minRole)) {
    throw forbidden(
      `Starting ${kind} tasks needs the ${minRole} role in the organization; yours is ${actor.role}.`,
    );
  }
}

/** PRECONDITION_FAILED when the plan lacks the kind's entitlement or the kind cannot run yet. */
export async function assertCanStart(
  deps: ServiceDeps,
  actor: Membership,
  kind: TaskKind,
  ent: Entitlements,
): Promise<void> {
  const { entitlement } = taskKinds[kind] as TaskKindDefinition;
  if (entitlement) assertFeature(deps, ent, actor.organizationId, entitlement);
  if (kind === 'generate_image' && !(await replicateTokenFor(deps, actor.organizationId))) {
    throw preconditionFailed(
      'Image generation needs a Replicate API token: an organization ADMIN can store one with PUT /api/organizations/{organizationId}/secrets/REPLICATE_API_TOKEN, or the server operator can set REPLICATE_API_TOKEN.',
    );
  }
}
