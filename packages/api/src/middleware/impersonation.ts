// The support-session rules every entry point applies (the tRPC gates, and the express routes that
// write outside tRPC): read-only unless allowWrite, a few account credentials never, and the trail
// (first access to each organization, every write) — see services/impersonation.ts.
import { forbidden } from '@woopdi/core';
import type { Context, Session } from '../context.js';
import { actingImpersonator } from '../services/audit.js';
import { NOT_UNDER_IMPERSONATION, READ_ONLY, recordAccess, recordWrite } from '../services/impersonation.js';

export type CallKind = 'query' | 'mutation' | 'subscription';

export interface SupportCall {
  type: CallKind;
  /** The procedure (or route) name, for the `support.write` entry. */
  path: string;
  /** The organization the gate resolved, if any. */
  organizationId?: string | undefined;
  /** Allowed in a read-only session (admin.endImpersonation only ends it). */
  readOnlySafe?: boolean | undefined;
  /** Refused in every support session (credentials the account's owner alone should mint). */
  notUnderImpersonation?: boolean | undefined;
}

/** Both ids on the request log line. */
export function logImpersonation(ctx: Context, session: Session) {
  if (!ctx.logFields || !session.impersonation) return;
  ctx.logFields.userId ??= session.userId;
  ctx.logFields.actorUserId = session.impersonation.actorUserId;
  ctx.logFields.impersonationId = session.sessionId;
}

/** 403 for a write the support session may not make. Queries and streams always read. */
export function assertSupportMay(session: Session, call: SupportCall) {
  const support = session.impersonation;
  if (!support || call.type !== 'mutation' || call.readOnlySafe) return;
  if (call.notUnderImpersonation) throw forbidden(NOT_UNDER_IMPERSONATION);
  if (!support.allowWrite) throw forbidden(READ_ONLY);
}

/**
 * Runs the call with the impersonator stamped on every audit entry; records the first access to
 * the organization before it, and after a successful write one `support.write` entry where the
 * service audited nothing itself. `ok` tells whether the call succeeded.
 */
export async function runAsSupport<R>(
  ctx: Context,
  session: Session,
  call: SupportCall,
  fn: () => Promise<R>,
  ok: (result: R) => boolean = () => true,
): Promise<R> {
  const support = session.impersonation!;
  if (call.organizationId) await recordAccess(ctx, session, call.organizationId);
  const store = {
    actorUserId: support.actorUserId,
    impersonationId: session.sessionId,
    audited: new Set<string | null>(),
  };
  const result = await actingImpersonator.run(store, fn);
  if (call.type === 'mutation' && !call.readOnlySafe && ok(result)) {
    try {
      await recordWrite(ctx, session, {
        procedure: call.path,
        organizationId: call.organizationId,
        audited: store.audited,
      });
    } catch (error) {
      // The write committed already; a missing trail entry must at least be loud.
      ctx.logger.error(
        { err: error, impersonationId: session.sessionId, procedure: call.path },
        'could not record a support write in the audit log',
      );
    }
  }
  return result;
}
