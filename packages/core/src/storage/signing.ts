// Signed URLs of the local driver: an HMAC-SHA256 over what the URL allows (method, object key,
// expiry, content type, size limit, download name), under a key derived from the process secrets.
// The API and worker processes derive the same key, so either may sign and the API verifies.
import { createHmac, hkdfSync } from 'node:crypto';
import { safeEqual } from '../crypto.js';

export type SignedMethod = 'GET' | 'PUT';

/** What a local signed URL grants; every field is covered by the signature. */
export interface LocalGrant {
  method: SignedMethod;
  key: string;
  /** Unix seconds. */
  expires: number;
  /** PUT: the Content-Type the upload must carry; GET: the Content-Type of the answer. */
  contentType: string;
  /** PUT only: the largest body accepted, in bytes. */
  maxBytes?: number | undefined;
  /** GET only: the file name offered in Content-Disposition. */
  downloadName?: string | undefined;
}

/** A 32-byte signing key for local URLs, derived (HKDF-SHA256) so the secret itself never signs. */
export function deriveUrlSigningKey(secret: string | Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'woopdi-storage', 'local signed urls v1', 32));
}

const canonical = (g: LocalGrant) =>
  [
    'v1',
    g.method,
    g.key,
    String(g.expires),
    g.contentType,
    String(g.maxBytes ?? ''),
    g.downloadName ?? '',
  ].join('\n');

export function signGrant(key: Buffer, grant: LocalGrant): string {
  return createHmac('sha256', key).update(canonical(grant)).digest('base64url');
}

/** Query parameters of a signed URL for `grant`. */
export function grantQuery(key: Buffer, grant: LocalGrant): URLSearchParams {
  const q = new URLSearchParams({ expires: String(grant.expires), ct: grant.contentType });
  if (grant.maxBytes !== undefined) q.set('max', String(grant.maxBytes));
  if (grant.downloadName !== undefined) q.set('dl', grant.downloadName);
  q.set('sig', signGrant(key, grant));
  return q;
}

export type GrantCheck = { ok: true; grant: LocalGrant } | { ok: false; reason: 'expired' | 'invalid' };

/** Rebuilds the grant from a request and checks its signature, then its expiry. */
export function verifyGrant(
  key: Buffer,
  method: SignedMethod,
  objectKey: string,
  query: URLSearchParams,
  now = Date.now(),
): GrantCheck {
  const expires = Number(query.get('expires'));
  const contentType = query.get('ct');
  const sig = query.get('sig');
  const max = query.get('max');
  if (!Number.isInteger(expires) || contentType === null || !sig) return { ok: false, reason: 'invalid' };
  const grant: LocalGrant = {
    method,
    key: objectKey,
    expires,
    contentType,
    maxBytes: max === null ? undefined : Number(max),
    downloadName: query.get('dl') ?? undefined,
  };
  if (grant.maxBytes !== undefined && !Number.isSafeInteger(grant.maxBytes))
    return { ok: false, reason: 'invalid' };
  if (!safeEqual(signGrant(key, grant), sig)) return { ok: false, reason: 'invalid' };
  if (expires * 1000 < now) return { ok: false, reason: 'expired' };
  return { ok: true, grant };
}
