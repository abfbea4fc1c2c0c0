import {
  badRequest,
  forbidden,
  hashPassword,
  publishUserEvent,
  queueEmail,
  unauthorized,
  verifyPassword,
} from '@woopdi/core';
import { memberships, organizations, users } from '@woopdi/db';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Session } from '../context.js';
import type { ServiceDeps } from './deps.js';
import { NOT_UNDER_IMPERSONATION } from './impersonation.js';
import { publicUser } from './serialize.js';
import { revokeAllForUser } from './sessions.js';
import { twoFactorEnabled } from './sign-in.js';

export async function me(deps: ServiceDeps, userId: string) {
  const user = await deps.db.query.users.findFirst({ where: eq(users.id, userId) });
  if (!user) throw unauthorized('Your account no longer exists.');
  return { ...publicUser(user), twoFactorEnabled: await twoFactorEnabled(deps.db, userId) };
}

export async function updateMe(
  deps: ServiceDeps,
  session: Session,
  input: {
    name?: string | null | undefined;
    currentPassword?: string | undefined;
    newPassword?: string | undefined;
  },
) {
  const changes: Partial<typeof users.$inferInsert> = {};
  if (input.name !== undefined) changes.name = input.name;
  if (input.newPassword !== undefined) {
    if (session.impersonation) throw forbidden(NOT_UNDER_IMPERSONATION);
    if (!input.currentPassword)
      throw badRequest('currentPassword: give your current password to set a new one.');
    const user = await deps.db.query.users.findFirst({ where: eq(users.id, session.userId) });
    if (user && user.passwordHash === null) {
      throw badRequest(
        'currentPassword: this account has no password yet (it signs in through a provider). Set one with "Forgot password" (POST /api/auth/request-password-reset).',
      );
    }
    if (!user || !(await verifyPassword(user.passwordHash!, input.currentPassword))) {
      throw badRequest('currentPassword: the current password is incorrect.');
    }
    changes.passwordHash = await hashPassword(input.newPassword);
  }
  const updated = await deps.db.transaction(async (tx) => {
    const [user] = await tx.update(users).set(changes).where(eq(users.id, session.userId)).returning();
    if (changes.passwordHash) {
      // Every other sign-in ends; this one continues.
      await revokeAllForUser(tx, session.userId, session.familyId);
      await queueEmail(tx, {
        to: user!.email,
        template: 'password_changed',
        payload: { name: user!.name, email: user!.email },
      });
    }
    return user!;
  });
  if (changes.passwordHash) {
    await publishUserEvent(deps.bus, session.userId, {
      type: 'session.revoked',
      familyId: null,
      exceptFamilyId: session.familyId,
    });
  }
  return { ...publicUser(updated), twoFactorEnabled: await twoFactorEnabled(deps.db, session.userId) };
}

export async function listMemberships(deps: ServiceDeps, userId: string, includeSolo: boolean) {
  const rows = await deps.db
    .select({
      organizationId: organizations.id,
      organizationName: organizations.name,
      slug: organizations.slug,
      isSolo: organizations.isSolo,
      ownerUserId: organizations.ownerUserId,
      role: memberships.role,
      joinedAt: memberships.createdAt,
    })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
    .where(
      and(
        eq(memberships.userId, userId),
        isNull(organizations.deletedAt),
        includeSolo ? undefined : eq(organizations.isSolo, false),
      ),
    )
    .orderBy(asc(organizations.isSolo), asc(organizations.name));
  return {
    memberships: rows.map(({ ownerUserId, joinedAt, ...r }) => ({
      ...r,
      isOwner: ownerUserId === userId,
      joinedAt: joinedAt.toISOString(),
    })),
  };
}

export async function setActiveOrganization(deps: ServiceDeps, userId: string, organizationId: string) {
  await deps.db.update(users).set({ lastActiveOrganizationId: organizationId }).where(eq(users.id, userId));
  return { lastActiveOrganizationId: organizationId };
}
