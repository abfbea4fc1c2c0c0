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
import { twoFactorEnabled } from './sign-in.js';

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
  const load = async () =>
    (await prepared(deps.db, 'live_organization', liveOrganization).execute({ id: actor.organizationId }))[0];
  let org = cache?.get(actor.organizationId);
  if (org) cache!.refreshAhead(org.id, load);
  else {
    const epoch = deps.authCache?.epoch;
    org = await load();
    if (!org) throw notFound('Organization');
    if (deps.authCache?.fresh(epoch)) cache?.set(org.id, org);
  }
  // Not `{ ...publicOrganization(org), role, isOwner }`: V8 gives each object built that way a hidden
  // class of its own (see context.ts), and this is the hot path's answer.
  return Object.assign(publicOrganization(org), { role: actor.role, isOwner: actor.isOwner });
}

const NEEDS_OWN_TWO_FACTOR =
  'Turn on two-factor for your own account first (Account → Two-factor, POST /api/auth/2fa/enroll then /api/auth/2fa/confirm): requiring it without having it would lock you out of this organization.';

/**
 * Renames the organization and/or sets whether its members need two-factor. Requiring two-factor
 * is a person's decision (not an API key's), by an ADMIN who has it on.
 */
export async function updateOrganization(
  deps: ServiceDeps,
  actor: Membership,
  input: { name?: string | undefined; requireTwoFactor?: boolean | undefined; viaApiKey: boolean },
) {
  if (input.name !== undefined && actor.isSolo) {
    throw forbidden('Personal (solo) organizations cannot be renamed.');
  }
  if (input.requireTwoFactor !== undefined && input.viaApiKey) {
    throw forbidden(
      "Whether members need two-factor is a person's decision: sign in as an ADMIN (with two-factor on) to change it.",
    );
  }
  const org = await deps.db.transaction(async (tx) => {
    const before = await loadLive(tx, actor.organizationId);
    if (input.requireTwoFactor && !before.requireTwoFactor && !(await twoFactorEnabled(tx, actor.userId))) {
      throw forbidden(NEEDS_OWN_TWO_FACTOR);
    }
    const [after] = await tx
      .update(organizations)
      .set({
        ...(input.name !== undefined && { name: input.name }),
        ...(input.requireTwoFactor !== undefined && { requireTwoFactor: input.requireTwoFactor }),
      })
      .where(eq(organizations.id, actor.organizationId))
      .returning();
    if (input.name !== undefined && input.name !== before.name) {
      await audit(tx, {
        organizationId: actor.organizationId,
        actorUserId: actor.userId,
        action: 'organization.renamed',
        target: { type: 'organization', id: actor.organizationId },
        metadata: { from: before.name, to: input.name },
      });
      await emitWebhookEvent(tx, actor.organizationId, 'organization.updated', { name: input.name });
    }
    if (input.requireTwoFactor !== undefined && input.requireTwoFactor !== before.requireTwoFactor) {
      await audit(tx, {
        organizationId: actor.organizationId,
        actorUserId: actor.userId,
        action: 'organization.two_factor_requirement_changed',
        target: { type: 'organization', id: actor.organizationId },
        metadata: { requireTwoFactor: input.requireTwoFactor },
      });
    }
    return after!;
  });
  // Drops every instance's cached rows of the organization and its memberships (the gate reads
  // the requirement from them).
  await publishOrganizationChanged(deps.bus, actor.organizationId);
  return publicOrganization(org);
}
