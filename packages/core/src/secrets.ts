// An organization's own API tokens, sealed at rest (DESIGN §3). Written by the api's secrets
// service; read here by whoever needs the value (the worker calling Replicate, the api's checks).
import { type DbOrTx, organizationSecrets } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import type { Config, EncryptionKey } from './config.js';
import { open } from './crypto.js';

/** Secret names: upper-case letters, digits and _, starting with a letter (REPLICATE_API_TOKEN). */
export const secretNamePattern = /^[A-Z][A-Z0-9_]{0,63}$/;

export const REPLICATE_TOKEN_SECRET = 'REPLICATE_API_TOKEN';

/** The decrypted value, or undefined when the organization has no secret of that name. */
export async function readOrganizationSecret(
  db: DbOrTx,
  keys: EncryptionKey[],
  organizationId: string,
  name: string,
): Promise<string | undefined> {
  const [row] = await db
    .select({ sealedValue: organizationSecrets.sealedValue })
    .from(organizationSecrets)
    .where(and(eq(organizationSecrets.organizationId, organizationId), eq(organizationSecrets.name, name)));
  return row ? open(keys, row.sealedValue) : undefined;
}

/** The organization's own Replicate token if it set one, else REPLICATE_API_TOKEN; undefined if neither. */
export async function replicateTokenFor(
  deps: { db: DbOrTx; config: Pick<Config, 'encryptionKeys' | 'replicateApiToken'> },
  organizationId: string,
): Promise<{ token: string; source: 'organization' | 'environment' } | undefined> {
  const own = await readOrganizationSecret(
    deps.db,
    deps.config.encryptionKeys,
    organizationId,
    REPLICATE_TOKEN_SECRET,
  );
  if (own) return { token: own, source: 'organization' };
  return deps.config.replicateApiToken
    ? { token: deps.config.replicateApiToken, source: 'environment' }
    : undefined;
}
