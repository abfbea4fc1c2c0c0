import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, type Options, verify } from '@node-rs/argon2';
import type { EncryptionKey } from './config.js';

// OWASP's argon2id baseline (m=19 MiB, t=2, p=1).
// algorithm 2 is Argon2id (a const enum in the typings, which isolated modules cannot read).
const ARGON2: Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const hashPassword = (password: string) => hash(password, ARGON2);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash of a password nobody has, for constant-time login failures on unknown emails. */
let dummyHash: Promise<string> | undefined;
export const dummyPasswordHash = () => {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
};

/** 32 random bytes, URL-safe: the secret half of every link and refresh token. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** Tokens are stored only as this hash. */
export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

// Sealed format: "v1.<keyId>.<iv>.<tag>.<ciphertext>", base64url parts. The key id lets old values
// open after ENCRYPTION_KEY rotates.
export function seal(keys: EncryptionKey[], plaintext: string): string {
  const current = keys[0];
  if (!current) throw new Error('no encryption key configured');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', current.key, iv);
  cipher.setAAD(Buffer.from(current.id));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [
    'v1',
    current.id,
    iv.toString('base64url'),
    tag.toString('base64url'),
    ct.toString('base64url'),
  ].join('.');
}

export function open(keys: EncryptionKey[], sealed: string): string {
  const [version, keyId, iv, tag, ct] = sealed.split('.');
  if (version !== 'v1' || !keyId || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
  const key = keys.find((k) => k.id === keyId);
  if (!key) throw new Error(`no encryption key with id "${keyId}"; add it to ENCRYPTION_KEY`);
  // A fixed tag length: Node otherwise accepts a tag truncated to 4 bytes, which is forgeable.
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'), {
    authTagLength: 16,
  });
  decipher.setAAD(Buffer.from(keyId));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}
