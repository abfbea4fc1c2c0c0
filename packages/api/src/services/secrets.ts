// An organization's secrets (its own API tokens): sealed with AES-256-GCM under ENCRYPTION_KEY
// (the key id is stored, so keys can rotate). Only the name and the last 4 characters ever leave.
import { notFound, seal } from '@woopdi/core';
import { organizationSecrets } from '@woopdi/db';
import { and, asc, eq } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';

type SecretRow = typeof organizationSecrets.$inferSelect;

const publicSecret = (s: SecretRow) => ({
  name: s.name,
  last4: s.last4,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});

/** A short value shows nothing: four characters of an eight-character secret would be half of it. */
const tailOf = (value: string) => (value.length >= 12 ? value.slice(-4) : '');

/** Creates or replaces the secret `name`. */
export async function setSecret(deps: ServiceDeps, actor: Membership, name: string, value: string) {
  const sealedValue = seal(deps.config.encryptionKeys, value);
  const keyId = deps.config.encryptionKeys[0]!.id;
  const row = await deps.db.transaction(async (tx) => {
    const [saved] = await tx
      .insert(organizationSecrets)
      .values({
        organizationId: actor.organizationId,
        name,
        sealedValue,
        keyId,
        last4: tailOf(value),
        createdBy: actor.userId,
      })
      .onConflictDoUpdate({
        target: [organizationSecrets.organizationId, organizationSecrets.name],
        set: { sealedValue, keyId, last4: tailOf(value), updatedAt: new Date() },
      })
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'secret.set',
      target: { type: 'secret', id: saved!.id },
      metadata: { name },
    });
    return saved!;
  });
  return publicSecret(row);
}

export async function listSecrets(deps: ServiceDeps, actor: Membership) {
  const rows = await deps.db
    .select()
    .from(organizationSecrets)
    .where(eq(organizationSecrets.organizationId, actor.organizationId))
    .orderBy(asc(organizationSecrets.name));
  return { secrets: rows.map(publicSecret) };
}

export async function deleteSecret(deps: ServiceDeps, actor: Membership, name: string) {
  await deps.db.transaction(async (tx) => {
    const [gone] = await tx
      .delete(organizationSecrets)
      .where(
        and(eq(organizationSecrets.organizationId, actor.organizationId), eq(organizationSecrets.name, name)),
      )
      .returning({ id: organizationSecrets.id });
    if (!gone) throw notFound('Secret');
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'secret.deleted',
      target: { type: 'secret', id: gone.id },
      metadata: { name },
    });
  });
  return { deleted: true as const };
}
