import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type EncryptionKey, loadConfig } from '../src/config.js';
import { hashPassword, open, randomToken, safeEqual, seal, sha256, verifyPassword } from '../src/crypto.js';

const key = (id: string): EncryptionKey => ({ id, key: randomBytes(32) });

/** Replaces one base64url part of a sealed value ("v1.<keyId>.<iv>.<tag>.<ciphertext>"). */
function withPart(sealed: string, index: number, change: (bytes: Buffer) => Buffer): string {
  const parts = sealed.split('.');
  parts[index] = change(Buffer.from(parts[index]!, 'base64url')).toString('base64url');
  return parts.join('.');
}
const flipFirstBit = (b: Buffer) => {
  const copy = Buffer.from(b);
  copy[0] = copy[0]! ^ 1;
  return copy;
};

describe('passwords', () => {
  it('a password hashes to argon2id with the OWASP parameters and verifies', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(hash).toContain('m=19456,t=2,p=1');
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
  });

  it('a wrong password does not verify', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(await verifyPassword(hash, 'correct horse battery stapl')).toBe(false);
    expect(await verifyPassword(hash, '')).toBe(false);
  });

  it('the same password hashes differently each time (salted)', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
  });

  it('a garbage or empty stored hash gives false instead of throwing', async () => {
    await expect(verifyPassword('not-a-hash', 'anything')).resolves.toBe(false);
    await expect(verifyPassword('', 'anything')).resolves.toBe(false);
    await expect(verifyPassword('$argon2id$v=19$m=19456,t=2,p=1$broken', 'anything')).resolves.toBe(false);
  });
});

describe('tokens and digests', () => {
  it('sha256 gives the 64-character lowercase hex digest', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256('')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('randomToken gives 32 URL-safe random bytes by default, never repeating', () => {
    const tokens = Array.from({ length: 1000 }, () => randomToken());
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(Buffer.from(tokens[0]!, 'base64url')).toHaveLength(32);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('safeEqual compares strings, including different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});

describe('sealing secrets at rest', () => {
  it('a sealed value opens to the same text', () => {
    const keys = [key('k1')];
    for (const plaintext of ['sk_live_123', '', 'ünïcødé ✓ and.dots.in.it']) {
      expect(open(keys, seal(keys, plaintext))).toBe(plaintext);
    }
  });

  it('the sealed text carries the key id and does not contain the plaintext', () => {
    const keys = [key('k1')];
    const plaintext = 'sk_live_very_secret_value';
    const sealed = seal(keys, plaintext);
    expect(sealed.startsWith('v1.k1.')).toBe(true);
    expect(sealed).not.toContain(plaintext);
    expect(sealed).not.toContain(Buffer.from(plaintext).toString('base64url'));
    // A fresh IV each time: equal secrets are not recognisable.
    expect(seal(keys, plaintext)).not.toBe(sealed);
  });

  it('tampered ciphertext does not open', () => {
    const keys = [key('k1')];
    const sealed = seal(keys, 'pay to alice');
    expect(() => open(keys, withPart(sealed, 4, flipFirstBit))).toThrow();
  });

  it('a tampered or truncated tag does not open', () => {
    const keys = [key('k1')];
    const sealed = seal(keys, 'pay to alice');
    expect(() => open(keys, withPart(sealed, 3, flipFirstBit))).toThrow();
    // Node accepts a 4-byte GCM tag unless the length is fixed; a short tag is forgeable.
    expect(() =>
      open(
        keys,
        withPart(sealed, 3, (b) => b.subarray(0, 4)),
      ),
    ).toThrow();
  });

  it('a value moved under another key id does not open (the id is authenticated)', () => {
    const a = key('a');
    const sealed = seal([a], 'secret');
    const relabelled = sealed.replace(/^v1\.a\./, 'v1.b.');
    expect(() => open([a, { id: 'b', key: a.key }], relabelled)).toThrow();
  });

  it('a value sealed with the old key still opens after rotation, and new values use the new key', () => {
    const oldB64 = randomBytes(32).toString('base64');
    const newB64 = randomBytes(32).toString('base64');
    const before = loadConfig({ ENCRYPTION_KEY: `old:${oldB64}` }).encryptionKeys;
    const sealedBefore = seal(before, 'stripe customer secret');

    const after = loadConfig({ ENCRYPTION_KEY: `new:${newB64},old:${oldB64}` }).encryptionKeys;
    expect(open(after, sealedBefore)).toBe('stripe customer secret');
    const sealedAfter = seal(after, 'fresh');
    expect(sealedAfter.startsWith('v1.new.')).toBe(true);
    expect(open(after, sealedAfter)).toBe('fresh');
  });

  it('a value whose key was removed fails with a message naming the id and ENCRYPTION_KEY', () => {
    const sealed = seal([key('old')], 'secret');
    expect(() => open([key('new')], sealed)).toThrow(/"old".*ENCRYPTION_KEY/);
  });

  it('something that is not a sealed value is refused', () => {
    const keys = [key('k1')];
    expect(() => open(keys, 'plain text')).toThrow(/not a sealed value/);
    expect(() => open(keys, 'v2.k1.a.b.c')).toThrow(/not a sealed value/);
  });

  it('sealing without any key fails', () => {
    expect(() => seal([], 'x')).toThrow(/no encryption key/);
  });
});
