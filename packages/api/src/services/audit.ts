import { AsyncLocalStorage } from 'node:async_hooks';
import { auditLog, type Db, type DbOrTx } from '@woopdi/db';
import { and, desc, eq } from 'drizzle-orm';
import { decodeCursor, keysetAfter, page } from './pagination.js';

export type AuditAction =
  | 'organization.created'
  | 'organization.renamed'
  | 'organization.two_factor_requirement_changed'
  | 'organization.deleted'
  | 'organization.ownership_transferred'
  | 'member.role_changed'
  | 'member.removed'
  | 'member.left'
  | 'member.joined'
  | 'invitation.created'
  | 'invitation.rotated'
  | 'invitation.resent'
  | 'invitation.revoked'
  | 'invitation.accepted'
  | 'admin.user_created'
  | 'admin.system_role_changed'
  | 'admin.user_disabled'
  | 'admin.user_enabled'
  | 'billing.checkout_started'
  | 'billing.seats_changed'
  // Written by the worker (core's billing.ts) with the same table: webhook sync, nightly drift, delete.
  | 'billing.subscription_synced'
  | 'billing.subscription_reconciled'
  | 'billing.subscription_canceled'
  | 'asset.deleted'
  | 'secret.set'
  | 'secret.deleted'
  | 'api_key.created'
  | 'api_key.first_used'
  | 'api_key.revoked'
  | 'webhook.created'
  | 'webhook.updated'
  | 'webhook.deleted'
  | 'webhook.secret_rotated'
  | 'webhook.disabled'
  // Support impersonation (services/impersonation.ts): started, first access to an organization,
  // a write the procedure did not audit itself, ended.
  | 'support.impersonation_started'
  | 'support.access'
  | 'support.write'
  | 'support.impersonation_ended';

/**
 * The API key a request acts through (set by the gates around the procedure call): every audit
 * entry written during it names the key as the actor, whatever user id the service passes.
 */
export const actingApiKey = new AsyncLocalStorage<{ id: string }>();

/**
 * The support impersonation a request runs under (set by the gates): every audit entry written
 * during it names the superadmin as well as the user, and the organizations it audited are noted
 * (so the gate knows whether a write still needs its own `support.write` entry).
 */
export const actingImpersonator = new AsyncLocalStorage<{
  actorUserId: string;
  impersonationId: string;
  audited: Set<string | null>;
}>();

export interface AuditEntry {
  organizationId: string | null;
  actorUserId: string | null;
  /** The key that acted; defaults to the request's API key (actingApiKey). */
  actorApiKeyId?: string | null;
  /** The superadmin acting as the user; defaults to the request's impersonation (actingImpersonator). */
  impersonatorUserId?: string | null;
  impersonationId?: string | null;
  action: AuditAction;
  target?: { type: string; id: string };
  metadata?: Record<string, unknown>;
}

/** Appends one row, inside the caller's transaction: it exists if and only if the change commits. */
export async function audit(tx: DbOrTx, entry: AuditEntry): Promise<void> {
  const key = actingApiKey.getStore();
  const support = actingImpersonator.getStore();
  support?.audited.add(entry.organizationId);
  await tx.insert(auditLog).values({
    organizationId: entry.organizationId,
    // Through a key, the key acted: not the user who once created it.
    actorUserId: key ? null : entry.actorUserId,
    actorApiKeyId: entry.actorApiKeyId ?? key?.id ?? null,
    impersonatorUserId: entry.impersonatorUserId ?? support?.actorUserId ?? null,
    impersonationId: entry.impersonationId ?? support?.impersonationId ?? null,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    metadata: entry.metadata ?? {},
  });
}

export async function listAuditLog(
  db: Db,
  organizationId: string,
  input: { limit: number; cursor?: string | undefined; action?: string | undefined },
) {
  const before = decodeCursor(input.cursor);
  const rows = await db
    .select()
    .from(auditLog)
    .where(
      and(
        eq(auditLog.organizationId, organizationId),
        input.action ? eq(auditLog.action, input.action) : undefined,
        keysetAfter(auditLog.at, auditLog.id, before, 'desc'),
      ),
    )
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (r) => ({ at: r.at, id: r.id }));
  return {
    entries: items.map((r) => ({
      id: r.id,
      action: r.action,
      actorUserId: r.actorUserId,
      actorApiKeyId: r.actorApiKeyId,
      impersonatorUserId: r.impersonatorUserId,
      impersonationId: r.impersonationId,
      targetType: r.targetType,
      targetId: r.targetId,
      metadata: r.metadata,
      at: r.at.toISOString(),
    })),
    nextCursor,
  };
}
