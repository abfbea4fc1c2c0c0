import { randomBytes } from 'node:crypto';
import {
  conflict,
  emitWebhookEvent,
  forbidden,
  notFound,
  publishOrganizationChanged,
  publishUserEvent,
} from '@woopdi/core';
import { type Db, type DbOrTx, memberships, organizations, users } from '@woopdi/db';
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { ApiDeps } from '../context.js';
import type { Membership } from '../middleware/membership.js';
import { prepared } from '../prepared.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { publicOrganization } from './serialize.js';

export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 40)
    .replace(/^-|-$/g, '');
  return `${base || 'org'}-${randomBytes(3).toString('hex')}`;
}

/** Inserts an organization and its owner's ADMIN membership (the deferred owner key checks both at commit). */
export async function insertOrganization(
  tx: DbOrTx,
  values: { name: string; ownerUserId: string; isSolo: boolean },
) {
  const [org] = await tx
    .insert(organizations)
    .values({ ...values, slug: slugify(values.name) })
    .returning();
  await tx.insert(memberships).values({ organizationId: org!.id, userId: values.ownerUserId, role: 'ADMIN' });
  return org!;
}

export const soloOrganizationName = (email: string) => `${email}'s solo org`;

/** Every user has exactly one solo organization; the unique index makes a second one impossible. */
export const createSoloOrganization = (tx: DbOrTx, user: { id: string; email: string }) =>
  insertOrganization(tx, { name: soloOrganizationName(user.email), ownerUserId: user.id, isSolo: true });

export async function createTeamOrganization(deps: ServiceDeps, userId: string, name: string) {
  const org = await deps.db.transaction(async (tx) => {
    // Serialises concurrent creates by the same user, so the limit cannot be raced.
    await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
    const [owned] = await tx
      .select({ n: count() })
      .from(organizations)
      .where(
        and(
          eq(organizations.ownerUserId, userId),
          eq(organizations.isSolo, false),
          isNull(organizations.deletedAt),
        ),
      );
    const limit = deps.config.maxOwnedTeamOrgs;
    if ((owned?.n ?? 0) >= limit) {
      throw conflict(
        `You already own ${limit === 1 ? 'a team organization' : `${limit} team organizations`}, the most allowed. Transfer or delete one first.`,
      );
    }
    const created = await insertOrganization(tx, { name, ownerUserId: userId, isSolo: false });
    await audit(tx, {
      organizationId: created.id,
      actorUserId: userId,
      action: 'organization.created',
      target: { type: 'organization', id: created.id },
      metadata: { name },
    });
    return created;
  });
  await publishUserEvent(deps.bus, userId, {
    type: 'membership.added',
    organizationId: org.id,
    role: 'ADMIN',
  });
  return publicOrganization(org);
}

export async function loadLive(db: DbOrTx, organizationId: string) {
  const org = await db.query.organizations.findFirst({
    where: (o, { and, eq, isNull }) => and(eq(o.id, organizationId), isNull(o.deletedAt)),
  });
  if (!org) throw notFound('Organization');
  return org;
}

const liveOrganization = (db: Db) =>
  db
    .select()
    .from(organizations)
    .where(and(eq(organizations.id, sql.placeholder('id')), isNull(organizations.deletedAt)))
    .prepare('live_organization');

export async function getOrganization(deps: ServiceDeps & Pick<ApiDeps, 'authCache'>, actor: Membership) {
  const cache = deps.authCache?.organizations;
  let org = cache?.get(actor.organizationId);
  if (!org) {
    const epoch = deps.authCache?.epoch;
    [org] = await prepared(deps.db, 'live_organization', liveOrganization).execute({
      id: actor.organizationId,
    });
    if (!org) throw notFound('Organization');
    if (deps.authCache?.fresh(epoch)) cache?.set(org.id, org);
  }
  return { ...publicOrganization(org), role: actor.role, isOwner: actor.isOwner };
}

export async function renameOrganization(deps: ServiceDeps, actor: Membership, name: string) {
  if (actor.isSolo) throw forbidden('Personal (solo) organizations cannot be renamed.');
  const org = await deps.db.transaction(async (tx) => {
    const before = await loadLive(tx, actor.organizationId);
    const [after] = await tx
      .update(organizations)
      .set({ name })
      .where(eq(organizations.id, actor.organizationId))
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'organization.renamed',
      target: { type: 'organization', id: actor.organizationId },
      metadata: { from: before.name, to: name },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'organization.updated', { name });
    return after!;
  });
  await publishOrganizationChanged(deps.bus, actor.organizationId);
  return publicOrganization(org);
}
