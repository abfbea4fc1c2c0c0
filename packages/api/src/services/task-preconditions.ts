// What a task kind needs before it may start (beyond its input schema): checked in tasks.start so a
// task that cannot run is refused with 412 at once instead of failing later in the worker.
import { preconditionFailed, replicateTokenFor, type TaskKind } from '@woopdi/core';
import type { Membership } from '../middleware/membership.js';
import type { ServiceDeps } from './deps.js';
import { assertEntitlement } from './entitlements.js';

export async function assertCanStart(deps: ServiceDeps, actor: Membership, kind: TaskKind): Promise<void> {
  if (kind !== 'generate_image') return;
  await assertEntitlement(deps, actor.organizationId, 'ai_generation');
  if (!(await replicateTokenFor(deps, actor.organizationId))) {
    throw preconditionFailed(
      'Image generation needs a Replicate API token: an organization ADMIN can store one with PUT /api/organizations/{organizationId}/secrets/REPLICATE_API_TOKEN, or the server operator can set REPLICATE_API_TOKEN.',
    );
  }
}
