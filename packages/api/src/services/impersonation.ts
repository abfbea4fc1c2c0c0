// Support impersonation (issue #18): a superadmin acts as a user for at most an hour, read-only
// unless allowed, with a trail. The impersonation is a `sessions` row without a refresh token
// (expires_at = its end), so the live-session check and the bus revocation that end a sign-in end
// it too, on every instance. Its id is that row's id (the token's `sid`).
import { randomUUID } from 'node:crypto';
import { badRequest, conflict, forbidden, notFound, publishUserEvent, queueEmail } from '@woopdi/core';
import { auditLog, type DbOrTx, organizations, sessions, users } from '@woopdi/db';
import { and, eq, isNotNull } from 'drizzle-orm';
import type { Session } from '../context.js';
import { audit } from './audit.js';
import type { ClientInfo, ServiceDeps } from './deps.js';

export const MAX_IMPERSONATION_MINUTES = 60;

export const READ_ONLY =
  'This support session is read-only: it was started without allowWrite, so changes are refused. End it (admin.endImpersonation) and start one with allowWrite to make changes.';
export const NOT_UNDER_IMPERSONATION =
  "Not in a support session: the account's credentials and sign-ins are its owner's to change. End this session with admin.endImpersonation (POST /admin/impersonation/end).";

const trail = (actorEmail: string, reason: string) => `support access by ${actorEmail}: ${reason}`;

async function soloOrganizationOf(db: DbOrTx, userId: string): Promise<string | null> {
  const [row] = await db
    .select({ id: organizations.id })
    .from(organizations)
    .where(and(eq(organizations.ownerUserId, userId), eq(organizations.isSolo, true)))
    .limit(1);
  return row?.id ?? null;
}

export interface StartInput {
  userId: string;
  reason: string;
  minutes: number;
  allowWrite: boolean;
}

export async function startImpersonation(
  deps: ServiceDeps,
  actor: Session,
  input: StartInput,
  client: ClientInfo,
) {
  if (actor.impersonation) throw forbidden('A support session cannot start another one.');
  if (input.userId === actor.userId) throw badRequest('userId: you cannot impersonate yourself.');
  // Whole seconds: the token's `exp` and the session's end are the same instant.
  const endsAt = new Date(Math.floor((Date.now() + input.minutes * 60_000) / 1000) * 1000);
  const started = await deps.db.transaction(async (tx) => {
    const [target] = await tx.select().from(users).where(eq(users.id, input.userId)).for('share');
    if (!target) throw notFound('User');
    if (target.systemRole !== 'user') {
      throw forbidden(
        `Support impersonation never acts as a system ${target.systemRole}: ask them directly, or change their system role first.`,
      );
    }
    if (target.disabledAt) throw conflict('This account is disabled: enable it first to act as its user.');
    const [row] = await tx
      .insert(sessions)
      .values({
        userId: target.id,
        familyId: randomUUID(),
        refreshTokenHash: null,
        expiresAt: endsAt,
        impersonatorId: actor.userId,
        impersonationReason: input.reason,
        allowWrite: input.allowWrite,
        userAgent: client.userAgent,
        ip: client.ip,
      })
      .returning({ id: sessions.id });
    const impersonationId = row!.id;
    const entry = {
      actorUserId: actor.userId,
      impersonatorUserId: actor.userId,
      impersonationId,
      action: 'support.impersonation_started' as const,
      target: { type: 'user', id: target.id },
      metadata: {
        message: trail(actor.email, input.reason),
        actorEmail: actor.email,
        reason: input.reason,
        allowWrite: input.allowWrite,
        endsAt: endsAt.toISOString(),
      },
    };
    // The user's solo organization (its ADMIN is the user) and the system area (the superadmin's record).
    await audit(tx, { ...entry, organizationId: await soloOrganizationOf(tx, target.id) });
    await audit(tx, { ...entry, organizationId: null });
    await queueEmail(tx, {
      to: target.email,
      template: 'support_access',
      payload: {
        name: target.name,
        actorEmail: actor.email,
        reason: input.reason,
        endsAt: endsAt.toISOString(),
        allowWrite: input.allowWrite,
      },
    });
    return { impersonationId, target };
  });
  const access = await deps.accessTokens.sign({
    sub: started.target.id,
    sid: started.impersonationId,
    role: started.target.systemRole,
    act: { sub: actor.userId },
    ro: !input.allowWrite,
    expiresAt: endsAt,
  });
  return {
    tokenType: 'Bearer' as const,
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt.toISOString(),
    impersonationId: started.impersonationId,
    userId: started.target.id,
    allowWrite: input.allowWrite,
  };
}

/**
 * Ends a support session: with its own token (no id needed), or by a superadmin with its id. Ending
 * one that already ended (or expired) answers the same, without a second trail entry.
 */
export async function endImpersonation(deps: ServiceDeps, caller: Session, impersonationId?: string) {
  let id: string;
  if (caller.impersonation) {
    if (impersonationId && impersonationId !== caller.sessionId) {
      throw forbidden('A support session can end only itself.');
    }
    id = caller.sessionId;
  } else {
    if (caller.systemRole !== 'superadmin') throw forbidden('This needs the superadmin system role.');
    if (!impersonationId) throw badRequest('impersonationId: name the support session to end.');
    id = impersonationId;
  }
  const ended = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(sessions)
      .where(and(eq(sessions.id, id), isNotNull(sessions.impersonatorId)))
      .for('update');
    if (!row) throw notFound('Support session');
    const alreadyOver = row.revokedAt !== null || row.expiresAt <= new Date();
    if (alreadyOver) return { row, endedAt: row.revokedAt ?? row.expiresAt, now: false };
    const endedAt = new Date();
    await tx.update(sessions).set({ revokedAt: endedAt }).where(eq(sessions.id, id));
    const [actor] = await tx
      .select({ email: users.email })
      .from(users)
      .where(eq(users.id, row.impersonatorId!));
    // The solo organization, every organization it touched, and the system area.
    const touched = await tx
      .selectDistinct({ organizationId: auditLog.organizationId })
      .from(auditLog)
      .where(and(eq(auditLog.impersonationId, id), eq(auditLog.action, 'support.access')));
    const solo = await soloOrganizationOf(tx, row.userId);
    const orgs = new Set<string | null>([solo, null, ...touched.map((t) => t.organizationId)]);
    for (const organizationId of orgs) {
      await audit(tx, {
        organizationId,
        actorUserId: row.impersonatorId,
        impersonatorUserId: row.impersonatorId,
        impersonationId: id,
        action: 'support.impersonation_ended',
        target: { type: 'user', id: row.userId },
        metadata: {
          message: `support access by ${actor?.email ?? 'a superadmin'} ended`,
          endedBy: caller.impersonation ? 'support session' : caller.userId,
        },
      });
    }
    return { row, endedAt, now: true };
  });
  if (ended.now) {
    // Drops the session from every instance's cache and closes its live streams.
    await publishUserEvent(deps.bus, ended.row.userId, {
      type: 'session.revoked',
      familyId: ended.row.familyId,
    });
  }
  return { impersonationId: id, endedAt: ended.endedAt.toISOString() };
}

/**
 * Organizations already recorded as touched by a support session, per instance: the first request
 * into each writes one `support.access` entry (the unique index keeps it to one across instances).
 */
const accessed = new Set<string>();

export async function recordAccess(deps: ServiceDeps, session: Session, organizationId: string) {
  const key = `${session.sessionId}:${organizationId}`;
  if (accessed.has(key)) return;
  const support = session.impersonation!;
  await deps.db
    .insert(auditLog)
    .values({
      organizationId,
      actorUserId: support.actorUserId,
      impersonatorUserId: support.actorUserId,
      impersonationId: session.sessionId,
      action: 'support.access',
      targetType: 'user',
      targetId: session.userId,
      metadata: {
        message: trail(support.actorEmail, support.reason),
        actorEmail: support.actorEmail,
        reason: support.reason,
        allowWrite: support.allowWrite,
      },
    })
    .onConflictDoNothing();
  if (accessed.size >= 10_000) accessed.clear();
  accessed.add(key);
}

/**
 * A write made in a support session that its service did not audit in the organization it acted
 * in (or, outside one, the user's solo organization): recorded as `support.write`, naming the
 * procedure, so every write made appears in the trail.
 */
export async function recordWrite(
  deps: ServiceDeps,
  session: Session,
  write: { procedure: string; organizationId?: string | undefined; audited: Set<string | null> },
) {
  const organizationId = write.organizationId ?? (await soloOrganizationOf(deps.db, session.userId));
  if (write.audited.has(organizationId)) return;
  const support = session.impersonation!;
  await audit(deps.db, {
    organizationId,
    actorUserId: session.userId,
    impersonatorUserId: support.actorUserId,
    impersonationId: session.sessionId,
    action: 'support.write',
    target: { type: 'procedure', id: write.procedure },
    metadata: { message: trail(support.actorEmail, support.reason), procedure: write.procedure },
  });
}

/** The live support session a user's request comes from, for users.me (`impersonatedBy`). */
export function impersonatedBy(session: Session) {
  const support = session.impersonation;
  if (!support) return null;
  return {
    userId: support.actorUserId,
    email: support.actorEmail,
    reason: support.reason,
    allowWrite: support.allowWrite,
    impersonationId: session.sessionId,
  };
}
