import {
  AppError,
  badRequest,
  conflict,
  emitWebhookEvent,
  forbidden,
  hashPassword,
  notFound,
  publishUserEvent,
  queueEmail,
  randomToken,
  sha256,
  unauthorized,
} from '@woopdi/core';
import { type DbOrTx, invitations, memberships, type OrgRole, organizations, users } from '@woopdi/db';
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Session } from '../context.js';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ClientInfo, ServiceDeps } from './deps.js';
import { assertSeatAvailable, lockOrganizationSeats } from './entitlements.js';
import { assertCanInvite } from './member-rules.js';
import { publishMembersChanged } from './members.js';
import { createSoloOrganization } from './organizations.js';
import { publicUser } from './serialize.js';
import { startSession } from './sessions.js';

export const INVITATION_TTL_MS = 7 * 24 * 3600_000;
const RECENT_MS = 30 * 24 * 3600_000;

type InvitationRow = typeof invitations.$inferSelect;

/** Pending rows past their expiry read as expired, whether or not a job has marked them yet. */
const effectiveStatus = (row: InvitationRow) =>
  row.status === 'pending' && row.expiresAt <= new Date() ? 'expired' : row.status;

const publicInvitation = (row: InvitationRow) => ({
  id: row.id,
  organizationId: row.organizationId,
  email: row.email,
  role: row.role,
  status: effectiveStatus(row),
  invitedBy: row.invitedBy,
  expiresAt: row.expiresAt.toISOString(),
  lastSentAt: row.lastSentAt.toISOString(),
  acceptedAt: row.acceptedAt?.toISOString() ?? null,
  createdAt: row.createdAt.toISOString(),
});

const acceptLink = (deps: ServiceDeps, token: string) =>
  `${deps.config.webClientUrl}/accept-invitation?token=${encodeURIComponent(token)}`;

async function sendInvitationEmail(deps: ServiceDeps, tx: DbOrTx, row: InvitationRow, token: string) {
  const [org] = await tx
    .select({ name: organizations.name })
    .from(organizations)
    .where(eq(organizations.id, row.organizationId));
  const [inviter] = await tx
    .select({ name: users.name, email: users.email })
    .from(users)
    .where(eq(users.id, row.invitedBy));
  await queueEmail(tx, {
    to: row.email,
    template: 'invitation',
    payload: {
      inviterName: inviter?.name ?? inviter?.email ?? 'Someone',
      organizationName: org!.name,
      role: row.role,
      url: acceptLink(deps, token),
    },
  });
}

export async function createInvitation(
  deps: ServiceDeps,
  actor: Membership,
  input: { email: string; role: OrgRole },
) {
  if (actor.isSolo) {
    throw forbidden(
      'Personal (solo) organizations have no other members: create a team organization to invite people.',
    );
  }
  assertCanInvite(actor, input.role);
  await deps.rateLimits.consume('invitation', actor.organizationId);
  // Re-inviting a pending address sends it another email: bounded per organization + recipient.
  await deps.rateLimits.consume('invitationRecipient', `${actor.organizationId}|${input.email}`);
  const token = randomToken();
  return deps.db.transaction(async (tx) => {
    await lockOrganizationSeats(tx, actor.organizationId);
    const [member] = await tx
      .select({ id: memberships.id })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.organizationId, actor.organizationId), eq(users.email, input.email)));
    if (member) throw conflict(`${input.email} is already a member of this organization.`);

    const values = {
      role: input.role,
      tokenHash: sha256(token),
      invitedBy: actor.userId,
      expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
      lastSentAt: new Date(),
    };
    // Re-inviting a pending email rotates its token and extends it rather than adding a duplicate.
    const [existing] = await tx
      .select()
      .from(invitations)
      .where(
        and(
          eq(invitations.organizationId, actor.organizationId),
          eq(invitations.email, input.email),
          eq(invitations.status, 'pending'),
        ),
      )
      .for('update');
    // Rotating a pending invitation keeps its seat; a new one needs a free seat.
    if (!existing) await assertSeatAvailable(deps, tx, actor.organizationId, 'invitation');
    const [row] = existing
      ? await tx.update(invitations).set(values).where(eq(invitations.id, existing.id)).returning()
      : await tx
          .insert(invitations)
          .values({ ...values, organizationId: actor.organizationId, email: input.email })
          .returning();
    await sendInvitationEmail(deps, tx, row!, token);
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: existing ? 'invitation.rotated' : 'invitation.created',
      target: { type: 'invitation', id: row!.id },
      metadata: { email: input.email, role: input.role },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'invitation.created', {
      invitationId: row!.id,
      email: input.email,
      role: input.role,
    });
    return publicInvitation(row!);
  });
}

export async function listInvitations(deps: ServiceDeps, actor: Membership) {
  const rows = await deps.db
    .select()
    .from(invitations)
    .where(
      and(
        eq(invitations.organizationId, actor.organizationId),
        or(eq(invitations.status, 'pending'), gt(invitations.updatedAt, new Date(Date.now() - RECENT_MS))),
      ),
    )
    .orderBy(desc(invitations.createdAt))
    .limit(500);
  return { invitations: rows.map(publicInvitation) };
}

/** The organization of an invitation: the gate that resolves `invitationId` uses it. */
export async function invitationOrganization(deps: Pick<ServiceDeps, 'db'>, invitationId: string) {
  const [row] = await deps.db
    .select({ organizationId: invitations.organizationId })
    .from(invitations)
    .where(eq(invitations.id, invitationId));
  return row?.organizationId;
}

async function lockPending(tx: DbOrTx, organizationId: string, invitationId: string) {
  const [row] = await tx
    .select()
    .from(invitations)
    .where(and(eq(invitations.id, invitationId), eq(invitations.organizationId, organizationId)))
    .for('update');
  if (!row) throw notFound('Invitation');
  if (row.status !== 'pending') throw conflict(`This invitation was already ${row.status}.`);
  return row;
}

export async function revokeInvitation(deps: ServiceDeps, actor: Membership, invitationId: string) {
  return deps.db.transaction(async (tx) => {
    await lockPending(tx, actor.organizationId, invitationId);
    const [row] = await tx
      .update(invitations)
      .set({ status: 'revoked' })
      .where(eq(invitations.id, invitationId))
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'invitation.revoked',
      target: { type: 'invitation', id: invitationId },
      metadata: { email: row!.email },
    });
    await emitWebhookEvent(tx, actor.organizationId, 'invitation.revoked', {
      invitationId,
      email: row!.email,
    });
    return publicInvitation(row!);
  });
}

export async function resendInvitation(deps: ServiceDeps, actor: Membership, invitationId: string) {
  await deps.rateLimits.consume('invitationResend', invitationId);
  const token = randomToken();
  return deps.db.transaction(async (tx) => {
    await lockPending(tx, actor.organizationId, invitationId);
    const [row] = await tx
      .update(invitations)
      .set({
        tokenHash: sha256(token),
        expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
        lastSentAt: new Date(),
      })
      .where(eq(invitations.id, invitationId))
      .returning();
    await deps.rateLimits.consume('invitationRecipient', `${actor.organizationId}|${row!.email}`);
    await sendInvitationEmail(deps, tx, row!, token);
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: 'invitation.resent',
      target: { type: 'invitation', id: invitationId },
      metadata: { email: row!.email },
    });
    return publicInvitation(row!);
  });
}

const UNKNOWN_LINK =
  'This invitation link is unknown, was revoked, or was already used. Ask for a new invitation.';
const EXPIRED_LINK = 'This invitation has expired. Ask someone in the organization to send it again.';

/** A pending, live invitation by token (locked when `tx` is a transaction); 404 or 400 otherwise. */
async function findByToken(tx: DbOrTx, token: string, lock: boolean) {
  const query = tx
    .select({ invitation: invitations, organizationName: organizations.name })
    .from(invitations)
    .innerJoin(organizations, eq(organizations.id, invitations.organizationId))
    .where(and(eq(invitations.tokenHash, sha256(token)), isNull(organizations.deletedAt)));
  const [row] = lock ? await query.for('update', { of: invitations }) : await query;
  if (row?.invitation.status !== 'pending') throw new AppError('NOT_FOUND', UNKNOWN_LINK);
  if (row.invitation.expiresAt <= new Date()) throw badRequest(EXPIRED_LINK, { expired: true });
  return row;
}

export async function invitationDetails(deps: ServiceDeps, token: string) {
  const { invitation, organizationName } = await findByToken(deps.db, token, false);
  const [inviter] = await deps.db
    .select({ name: users.name, email: users.email })
    .from(users)
    .where(eq(users.id, invitation.invitedBy));
  const [account] = await deps.db
    .select({ id: users.id })
    .from(users)
    .where(eq(users.email, invitation.email));
  return {
    organizationId: invitation.organizationId,
    organizationName,
    inviterName: inviter?.name ?? inviter?.email ?? 'Someone',
    email: invitation.email,
    role: invitation.role,
    accountExists: account !== undefined,
    expiresAt: invitation.expiresAt.toISOString(),
  };
}

export async function acceptInvitation(
  deps: ServiceDeps,
  session: Session | null,
  input: { token: string; password?: string | undefined; name?: string | undefined },
  client: ClientInfo,
) {
  // Hashing is slow; do it before taking row locks, and only when a new account may be created.
  const passwordHash = input.password ? await hashPassword(input.password) : undefined;
  const result = await deps.db.transaction(async (tx) => {
    // The organization's seat lock first, then the invitation row (the order createInvitation takes).
    await lockOrganizationSeats(tx, (await findByToken(tx, input.token, false)).invitation.organizationId);
    const { invitation } = await findByToken(tx, input.token, true);
    const [existing] = await tx.select().from(users).where(eq(users.email, invitation.email));
    let user = existing;
    let tokens: Awaited<ReturnType<typeof startSession>> | undefined;
    if (user) {
      if (!session) throw unauthorized(`Sign in as ${invitation.email} to accept this invitation.`);
      if (session.userId !== user.id) {
        throw forbidden(
          `This invitation is for ${invitation.email}; sign in with that account to accept it.`,
        );
      }
    } else {
      if (session) {
        throw forbidden(`This invitation is for ${invitation.email}; sign out to create that account.`);
      }
      if (!passwordHash)
        throw badRequest('password: choose a password (at least 8 characters) to create your account.');
      // The link reached the inbox, which verifies the address.
      [user] = await tx
        .insert(users)
        .values({
          email: invitation.email,
          name: input.name ?? null,
          passwordHash,
          emailVerifiedAt: new Date(),
        })
        .returning();
      await createSoloOrganization(tx, user!);
      tokens = await startSession(deps, tx, user!, client);
    }
    const [alreadyMember] = await tx
      .select({ id: memberships.id })
      .from(memberships)
      .where(
        and(eq(memberships.organizationId, invitation.organizationId), eq(memberships.userId, user!.id)),
      );
    if (!alreadyMember) await assertSeatAvailable(deps, tx, invitation.organizationId, 'member');
    // The unique (organization, user) key makes a second membership impossible, whatever races.
    const added = await tx
      .insert(memberships)
      .values({ organizationId: invitation.organizationId, userId: user!.id, role: invitation.role })
      .onConflictDoNothing()
      .returning({ id: memberships.id });
    await tx
      .update(invitations)
      .set({ status: 'accepted', acceptedBy: user!.id, acceptedAt: new Date() })
      .where(eq(invitations.id, invitation.id));
    await audit(tx, {
      organizationId: invitation.organizationId,
      actorUserId: user!.id,
      action: 'invitation.accepted',
      target: { type: 'invitation', id: invitation.id },
      metadata: {
        email: invitation.email,
        role: invitation.role,
        newAccount: !existing,
        joined: added.length > 0,
      },
    });
    await emitWebhookEvent(tx, invitation.organizationId, 'invitation.accepted', {
      invitationId: invitation.id,
      userId: user!.id,
      email: invitation.email,
      role: invitation.role,
    });
    if (added.length > 0) {
      await emitWebhookEvent(tx, invitation.organizationId, 'member.added', {
        userId: user!.id,
        email: user!.email,
        role: invitation.role,
      });
    }
    return { invitation, user: user!, tokens, joined: added.length > 0 };
  });
  if (result.joined) {
    await publishUserEvent(deps.bus, result.user.id, {
      type: 'membership.added',
      organizationId: result.invitation.organizationId,
      role: result.invitation.role,
    });
    await publishMembersChanged(deps, result.invitation.organizationId, result.user.id, 'joined');
  }
  return {
    organizationId: result.invitation.organizationId,
    role: result.invitation.role,
    user: publicUser(result.user),
    tokens: result.tokens ?? null,
  };
}

/** Marks pending invitations past their expiry as expired (housekeeping; reads never depend on it). */
export async function expireInvitations(db: DbOrTx) {
  await db
    .update(invitations)
    .set({ status: 'expired' })
    .where(and(eq(invitations.status, 'pending'), sql`${invitations.expiresAt} <= now()`));
}
