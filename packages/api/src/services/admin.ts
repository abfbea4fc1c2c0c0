// The system area: platform admins see every user and organization; only superadmins change roles.
import { badRequest, conflict, hashPassword, notFound, publishUserEvent } from '@woopdi/core';
import { organizations, type SystemRole, users } from '@woopdi/db';
import { and, asc, count, eq, ilike, isNotNull, isNull } from 'drizzle-orm';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { isUniqueViolation } from './deps.js';
import { createSoloOrganization } from './organizations.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';
import { publicOrganization, publicUser } from './serialize.js';
import { revokeAllForUser } from './sessions.js';

const like = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export async function listUsers(
  deps: ServiceDeps,
  input: {
    search?: string | undefined;
    systemRole?: SystemRole | undefined;
    verified?: boolean | undefined;
    disabled?: boolean | undefined;
    limit: number;
    cursor?: string | undefined;
  },
) {
  const after = decodeCursor(input.cursor);
  const rows = await deps.db
    .select()
    .from(users)
    .where(
      and(
        input.search ? ilike(users.email, like(input.search.toLowerCase())) : undefined,
        input.systemRole ? eq(users.systemRole, input.systemRole) : undefined,
        input.verified === undefined
          ? undefined
          : input.verified
            ? isNotNull(users.emailVerifiedAt)
            : isNull(users.emailVerifiedAt),
        input.disabled === undefined
          ? undefined
          : input.disabled
            ? isNotNull(users.disabledAt)
            : isNull(users.disabledAt),
        keysetAfter(users.createdAt, users.id, after, 'asc'),
      ),
    )
    .orderBy(asc(users.createdAt), asc(users.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (u) => ({ at: u.createdAt, id: u.id }));
  return {
    users: items.map((u) => ({ ...publicUser(u), disabled: u.disabledAt !== null })),
    nextCursor,
  };
}

export async function listOrganizations(
  deps: ServiceDeps,
  input: {
    isSolo?: boolean | undefined;
    search?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  },
) {
  const after = decodeCursor(input.cursor);
  const rows = await deps.db
    .select()
    .from(organizations)
    .where(
      and(
        isNull(organizations.deletedAt),
        input.isSolo === undefined ? undefined : eq(organizations.isSolo, input.isSolo),
        input.search ? ilike(organizations.name, like(input.search)) : undefined,
        keysetAfter(organizations.createdAt, organizations.id, after, 'asc'),
      ),
    )
    .orderBy(asc(organizations.createdAt), asc(organizations.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (o) => ({ at: o.createdAt, id: o.id }));
  return { organizations: items.map(publicOrganization), nextCursor };
}

/** Creates a platform admin (verified, with their solo organization like every user). */
export async function createSystemUser(
  deps: ServiceDeps,
  actorUserId: string,
  input: {
    email: string;
    password: string;
    name?: string | undefined;
    systemRole: Exclude<SystemRole, 'user'>;
  },
) {
  const passwordHash = await hashPassword(input.password);
  try {
    const user = await deps.db.transaction(async (tx) => {
      const [user] = await tx
        .insert(users)
        .values({
          email: input.email,
          name: input.name ?? null,
          passwordHash,
          systemRole: input.systemRole,
          emailVerifiedAt: new Date(),
        })
        .returning();
      await createSoloOrganization(tx, user!);
      await audit(tx, {
        organizationId: null,
        actorUserId,
        action: 'admin.user_created',
        target: { type: 'user', id: user!.id },
        metadata: { email: input.email, systemRole: input.systemRole },
      });
      return user!;
    });
    return publicUser(user);
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_key'))
      throw conflict(`An account with ${input.email} already exists.`);
    throw error;
  }
}

export async function setSystemRole(
  deps: ServiceDeps,
  actorUserId: string,
  userId: string,
  systemRole: SystemRole,
) {
  const user = await deps.db.transaction(async (tx) => {
    // Locks every superadmin row: two concurrent demotions cannot both pass the last-one check.
    const supers = await tx
      .select({ id: users.id })
      .from(users)
      .where(eq(users.systemRole, 'superadmin'))
      .for('update');
    const [target] = await tx.select().from(users).where(eq(users.id, userId)).for('update');
    if (!target) throw notFound('User');
    if (target.systemRole === 'superadmin' && systemRole !== 'superadmin' && supers.length <= 1) {
      throw conflict('This is the last superadmin. Make someone else superadmin first.');
    }
    const [updated] = await tx.update(users).set({ systemRole }).where(eq(users.id, userId)).returning();
    await audit(tx, {
      organizationId: null,
      actorUserId,
      action: 'admin.system_role_changed',
      target: { type: 'user', id: userId },
      metadata: { from: target.systemRole, to: systemRole },
    });
    return updated!;
  });
  return publicUser(user);
}

export async function setDisabled(deps: ServiceDeps, actorUserId: string, userId: string, disabled: boolean) {
  if (actorUserId === userId) throw badRequest('userId: you cannot disable or enable your own account.');
  const user = await deps.db.transaction(async (tx) => {
    const [target] = await tx.select().from(users).where(eq(users.id, userId)).for('update');
    if (!target) throw notFound('User');
    if (disabled && target.systemRole === 'superadmin') {
      const [supers] = await tx
        .select({ n: count() })
        .from(users)
        .where(and(eq(users.systemRole, 'superadmin'), isNull(users.disabledAt)));
      if ((supers?.n ?? 0) <= 1) throw conflict('This is the last active superadmin; it cannot be disabled.');
    }
    const [updated] = await tx
      .update(users)
      .set({ disabledAt: disabled ? (target.disabledAt ?? new Date()) : null })
      .where(eq(users.id, userId))
      .returning();
    if (disabled) await revokeAllForUser(tx, userId);
    await audit(tx, {
      organizationId: null,
      actorUserId,
      action: disabled ? 'admin.user_disabled' : 'admin.user_enabled',
      target: { type: 'user', id: userId },
    });
    return updated!;
  });
  if (disabled) await publishUserEvent(deps.bus, userId, { type: 'session.revoked', familyId: null });
  return { ...publicUser(user), disabled: user.disabledAt !== null };
}
