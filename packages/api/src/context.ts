import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OrgRole, SystemRole } from '@woopdi/db';
import type { AuthCache } from './auth-cache.js';
import type { ServiceDeps } from './services/deps.js';

/** Long-lived things a request needs; built once per process by the server. */
export interface ApiDeps extends ServiceDeps {
  /** Per-instance cache of the hot path; absent in tests that call services directly. */
  authCache?: AuthCache;
}

export interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

export interface Context extends ApiDeps, RequestMeta {
  /** Bearer token from the Authorization header, or `token` in websocket connection params. */
  accessToken: string | null;
  /** Who the request acts as, filled in by the gates; the request log line carries it. */
  logFields?: LogFields;
  /** Sets a response header (RateLimit-* for API keys); absent where there is no HTTP response. */
  setHeader?: (name: string, value: string) => void;
}

export interface LogFields {
  userId?: string;
  organizationId?: string;
  /** The API key's public id (never its secret) when a key made the request. */
  apiKeyId?: string;
  /** Support impersonation: the superadmin acting as userId, and the impersonation (session) id. */
  actorUserId?: string;
  impersonationId?: string;
}

/** Set by the auth middleware. */
export interface Session {
  userId: string;
  sessionId: string;
  /** Stable across refresh rotations: identifies one sign-in. */
  familyId: string;
  systemRole: SystemRole;
  email: string;
  /**
   * Set when the caller is an organization API key: it acts for that organization only, with its
   * role (the gates enforce it); userId and email are then its creator's (rows that need a user).
   */
  apiKey?: ApiKeyActor;
  /** Set when a superadmin acts as this user (admin.impersonate); sessionId is the impersonation's id. */
  impersonation?: Impersonation;
}

export interface Impersonation {
  /** The superadmin's user id (the token's `act.sub`). */
  actorUserId: string;
  actorEmail: string;
  reason: string;
  /** Without it every mutation is refused (403). */
  allowWrite: boolean;
}

export interface ApiKeyActor {
  /** api_keys.id */
  id: string;
  /** The public key id (`wpd_<keyId>_…`). */
  keyId: string;
  name: string;
  organizationId: string;
  role: OrgRole;
  isSolo: boolean;
}

interface ContextOptions {
  req: IncomingMessage & { id?: unknown };
  info?: { connectionParams?: Record<string, string | undefined> | null };
}

function bearer(req: IncomingMessage, params?: Record<string, string | undefined> | null): string | null {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim() || null;
  return params?.token ?? null;
}

export function createContextFactory(deps: ApiDeps) {
  return ({ req, info }: ContextOptions): Context => {
    // Shared with the request log line (pino-http reads req.woopdiLog when the response ends).
    const carrier = req as { woopdiLog?: LogFields; res?: ServerResponse };
    carrier.woopdiLog ??= {};
    // express (and the server's request listener) set req.res; a websocket upgrade has none.
    const res = carrier.res;
    // The request's own fields first, then the dependencies copied in. Built as `{ ...deps, a, b }`,
    // V8 gave every request's context a hidden class of its own (~3.4 KB allocated per request, and
    // every `ctx.x` read downstream missed its inline cache): organizations.get through the router
    // took 40 µs of CPU per call, 16.5 µs like this (scripts/bench/micro-procedure.ts, issue #11).
    return Object.assign(
      {
        logFields: carrier.woopdiLog,
        setHeader: res
          ? (name: string, value: string) => {
              if (!res.headersSent) res.setHeader(name, value);
            }
          : undefined,
        accessToken: bearer(req, info?.connectionParams),
        requestId: typeof req.id === 'string' ? req.id : String(req.id ?? ''),
        // express's req.ip honours `trust proxy`; the websocket upgrade request has only the socket.
        ip: (req as { ip?: string }).ip ?? req.socket?.remoteAddress ?? null,
        userAgent: req.headers['user-agent']?.slice(0, 500) ?? null,
      },
      deps,
    );
  };
}
