// The storage contract shared by the drivers (local disk, Google Cloud Storage). Object keys are
// chosen by Woopdi (orgs/{organizationId}/...), never by clients.
import type { Readable } from 'node:stream';

export type StorageKind = 'local' | 'gcs';

export interface SignedUrl {
  url: string;
  method: 'PUT' | 'GET';
  /** Headers the client must send with the request (the signature covers them). */
  headers: Record<string, string>;
  expiresAt: Date;
}

export interface ObjectInfo {
  size: number;
  contentType: string | undefined;
}

export interface WriteOptions {
  contentType: string;
  /** The write fails with PAYLOAD_TOO_LARGE (and leaves no object) past this many bytes. */
  maxBytes?: number;
  /**
   * Create only: the write fails with ALREADY_EXISTS (and leaves the existing object untouched)
   * when the object exists, atomically (a signed upload URL writes once).
   */
  ifAbsent?: boolean;
}

/** The error a create-only write fails with when the object exists. */
export class ObjectExistsError extends Error {
  readonly code = 'ALREADY_EXISTS';
  constructor(key: string) {
    super(`storage object "${key}" already exists`);
  }
}

export interface WriteResult {
  size: number;
  /** SHA-256 of the bytes written, hex. */
  sha256: string;
}

export interface Storage {
  readonly kind: StorageKind;
  /**
   * A URL the client PUTs the bytes to, with `headers`, before `expiresAt`. It writes once: a PUT
   * to an object that exists is refused (local: 409; GCS: 412 by the ifGenerationMatch=0 precondition).
   */
  signedUploadUrl(
    key: string,
    options: { contentType: string; maxBytes: number; expiresInSeconds: number },
  ): Promise<SignedUrl>;
  /** A URL anyone holding it may GET the object from, until `expiresAt`. */
  signedDownloadUrl(
    key: string,
    options: { expiresInSeconds: number; filename?: string; contentType?: string },
  ): Promise<SignedUrl>;
  /** Size and type of a stored object; undefined when there is none. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** The object's bytes, streamed. */
  read(key: string): Promise<Readable>;
  /**
   * Streams `body` into the object (replacing it, unless `ifAbsent`), hashing as it goes; no
   * partial object is left on failure.
   */
  write(key: string, body: Readable | Uint8Array, options: WriteOptions): Promise<WriteResult>;
  /** Deletes the object; a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object whose key starts with `prefix` (which must end with "/"); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
}

/** Object keys: relative, "/"-separated, of [A-Za-z0-9._-] segments; no "." or ".." segment. */
export function assertObjectKey(key: string): void {
  const segments = key.split('/');
  const ok =
    key.length > 0 &&
    key.length <= 1024 &&
    segments.every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..' && !s.startsWith('.'));
  if (!ok) throw new Error(`invalid storage key "${key}"`);
}

export function assertPrefix(prefix: string): void {
  if (!prefix.endsWith('/')) throw new Error(`a storage prefix must end with "/": "${prefix}"`);
  assertObjectKey(prefix.slice(0, -1));
}
