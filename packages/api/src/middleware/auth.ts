import { unauthorized } from '@woopdi/core';
import { type Db, sessions, users } from '@woopdi/db';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Context, Session } from '../context.js';
import { prepared } from '../prepared.js';
import type { AccessClaims } from '../services/access-tokens.js';
import { authenticateApiKey, isApiKeyToken } from './api-key-auth.js';

const impersonator = alias(users, 'impersonator');

const liveSession = (db: Db) =>
  db
    .select({
      userId: users.id,
      email: users.email,
      systemRole: users.systemRole,
      disabledAt: users.disabledAt,
      familyId: sessions.familyId,
      // Support impersonation (admin.impersonate): who acts, why, and whether they may write.
      impersonatorId: sessions.impersonatorId,
      impersonationReason: sessions.impersonationReason,
      allowWrite: sessions.allowWrite,
      impersonatorEmail: impersonator.email,
      impersonatorRole: impersonator.systemRole,
      impersonatorDisabledAt: impersonator.disabledAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(impersonator, eq(impersonator.id, sessions.impersonatorId))
    .where(
      and(
        eq(sessions.id, sql.placeholder('sid')),
        eq(sessions.userId, sql.placeholder('sub')),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
      ),
    )
    .limit(1)
    .prepare('live_session');

/**
 * Verifies the access token and that its session is live and its user enabled: one query. An
 * organization API key (`wpd_…`) is accepted in the same place and yields a session marked `apiKey`.
 */
export async function authenticate(ctx: Context): Promise<Session> {
  if (!ctx.accessToken)
    throw unauthorized('Sign in first: send an access token as "Authorization: Bearer <token>".');
  if (isApiKeyToken(ctx.accessToken)) return authenticateApiKey(ctx, ctx.accessToken);
  const claims = await verifiedClaims(ctx, ctx.accessToken);
  if (!claims) throw unauthorized('Your access token is invalid or expired: refresh it or sign in again.');
  const cache = ctx.authCache?.sessions;
  const cached = cache?.get(claims.sid);
  if (cache && cached && cached.userId === claims.sub) {
    cache.refreshAhead(claims.sid, () => loadSession(ctx, claims));
    return cached;
  }
  const epoch = ctx.authCache?.epoch;
  const session = await loadSession(ctx, claims);
  if (ctx.authCache?.fresh(epoch)) cache?.set(claims.sid, session);
  return session;
}

/** The live session the token names, or 401 saying why not: one query. */
async function loadSession(ctx: Context, claims: AccessClaims): Promise<Session> {
  const [row] = await prepared(ctx.db, 'live_session', liveSession).execute({
    sid: claims.sid,
    sub: claims.sub,
  });
  if (!row) throw unauthorized('Your session has ended: sign in again.');
  if (row.disabledAt) throw unauthorized('This account is disabled. Contact your administrator.');
  const session: Session = {
    userId: row.userId,
    sessionId: claims.sid,
    familyId: row.familyId,
    systemRole: row.systemRole,
    email: row.email,
  };
  // --- support impersonation: the session row is the truth; the token's `act` must agree with it.
  if (row.impersonatorId || claims.act) {
    if (row.impersonatorId !== claims.act?.sub) throw unauthorized('Your session has ended: sign in again.');
    // A superadmin demoted or disabled meanwhile loses the sessions they started as someone else.
    if (row.impersonatorRole !== 'superadmin' || row.impersonatorDisabledAt) {
      throw unauthorized('This support session has ended: its superadmin no longer has that role.');
    }
    session.impersonation = {
      actorUserId: row.impersonatorId!,
      actorEmail: row.impersonatorEmail!,
      reason: row.impersonationReason ?? '',
      allowWrite: row.allowWrite,
    };
  }
  // ---
  return session;
}

/** A verified token is remembered until it expires: verifying costs more than the lookup. */
async function verifiedClaims(ctx: Context, token: string) {
  const cache = ctx.authCache?.claims;
  const hit = cache?.get(token);
  const now = Date.now();
  if (hit && hit.exp * 1000 > now) return hit;
  const claims = await ctx.accessTokens.verify(token);
  if (claims && cache) cache.set(token, claims, { ttl: Math.max(1, claims.exp * 1000 - now) });
  return claims;
}
