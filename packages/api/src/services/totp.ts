// TOTP (RFC 6238) through otpauth: SHA-1, 6 digits, 30-second steps — what every authenticator app
// reads from an otpauth:// URI. Secrets are sealed at rest with ENCRYPTION_KEY.
import { randomInt } from 'node:crypto';
import { type EncryptionKey, open, seal, sha256 } from '@woopdi/core';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

const ISSUER = 'Woopdi';
const PERIOD = 30;
/** One step either side of now: a phone clock a little off, or a code typed as it rolled over. */
const WINDOW = 1;

const totp = (secretBase32: string, label = '') =>
  new TOTP({
    issuer: ISSUER,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: Secret.fromBase32(secretBase32),
  });

/** A new secret (160 bits, RFC 4226's recommendation), its sealed form and what an app scans. */
export async function newSecret(keys: EncryptionKey[], accountEmail: string) {
  const secret = new Secret({ size: 20 }).base32;
  const otpauthUri = totp(secret, accountEmail).toString();
  const svg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return {
    secret,
    sealedSecret: seal(keys, secret),
    otpauthUri,
    qrCodeSvgDataUrl: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
  };
}

/**
 * The time step a code belongs to, when it is right for now (±WINDOW) and later than
 * `lastUsedStep` (so a code is accepted once: replaying it, or an older one, is refused); else null.
 */
export function acceptedStep(
  keys: EncryptionKey[],
  sealedSecret: string,
  code: string,
  lastUsedStep: number | null,
  now = Date.now(),
): number | null {
  const delta = totp(open(keys, sealedSecret)).validate({ token: code, timestamp: now, window: WINDOW });
  if (delta === null) return null;
  const step = Math.floor(now / 1000 / PERIOD) + delta;
  return lastUsedStep !== null && step <= lastUsedStep ? null : step;
}

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // no 0/o, 1/l/i: read off paper

/** `xxxxx-xxxxx`: 10 characters of a 31-letter alphabet (~50 bits), shown to the user once. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]);
    return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
  });
}

/** Stored form of a recovery code: case, spaces and dashes do not matter when it is typed back. */
export const recoveryCodeHash = (code: string) => sha256(code.toLowerCase().replace(/[\s-]/g, ''));
