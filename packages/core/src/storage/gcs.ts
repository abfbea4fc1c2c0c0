// The Google Cloud Storage driver (GCP_BUCKET_NAME + GCP_SERVICE_FILE_CRED_JSON_LOCATION): V4 signed
// URLs for uploads and downloads, computed locally from the service account's key. The bucket stays
// private; nothing is ever made public.

import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { GetSignedUrlConfig, Storage as GoogleStorage } from '@google-cloud/storage';
import { Meter } from './meter.js';
import { assertObjectKey, assertPrefix, ObjectExistsError, type Storage, type WriteResult } from './types.js';

export interface GcsStorageOptions {
  bucket: string;
  /** Path of a service-account JSON key (it signs the URLs). Without one, Application Default Credentials. */
  keyFilename?: string | undefined;
  /** The key's fields inline (tests). */
  credentials?: { client_email: string; private_key: string } | undefined;
  projectId?: string | undefined;
  /** Another endpoint than https://storage.googleapis.com (a local stand-in in tests). */
  apiEndpoint?: string | undefined;
}

export interface GcsStorage extends Storage {
  readonly kind: 'gcs';
  readonly bucket: string;
}

// The SDK is loaded on the first createGcsStorage(): without GCP_BUCKET_NAME it is never loaded.
const require = createRequire(import.meta.url);

const isNotFound = (e: unknown) => (e as { code?: number })?.code === 404;

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name. */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export function createGcsStorage(options: GcsStorageOptions): GcsStorage {
  const { Storage: GoogleStorageClient } = require('@google-cloud/storage') as {
    Storage: typeof GoogleStorage;
  };
  const client = new GoogleStorageClient({
    ...(options.keyFilename && { keyFilename: options.keyFilename }),
    ...(options.credentials && { credentials: options.credentials }),
    ...(options.projectId && { projectId: options.projectId }),
    ...(options.apiEndpoint && { apiEndpoint: options.apiEndpoint, useAuthWithCustomEndpoint: false }),
  });
  const bucket = client.bucket(options.bucket);
  const file = (key: string) => {
    assertObjectKey(key);
    return bucket.file(key);
  };
  const expiresAt = (seconds: number) => new Date(Date.now() + seconds * 1000);

  return {
    kind: 'gcs',
    bucket: options.bucket,

    async signedUploadUrl(key, { contentType, maxBytes, expiresInSeconds }) {
      const expires = expiresAt(expiresInSeconds);
      // GCS refuses a PUT whose body is outside this range, and (precondition ifGenerationMatch=0)
      // one to an object that exists: the URL writes once, so a completed upload cannot be replaced.
      // The headers are signed, so they cannot be dropped.
      const extensionHeaders = {
        'x-goog-content-length-range': `0,${maxBytes}`,
        'x-goog-if-generation-match': '0',
      };
      const headers = { 'content-type': contentType, ...extensionHeaders };
      const [url] = await file(key).getSignedUrl({
        version: 'v4',
        action: 'write',
        expires,
        contentType,
        extensionHeaders,
      });
      return { url, method: 'PUT', headers, expiresAt: expires };
    },

    async signedDownloadUrl(key, { expiresInSeconds, filename, contentType }) {
      const expires = expiresAt(expiresInSeconds);
      const config: GetSignedUrlConfig = { version: 'v4', action: 'read', expires };
      if (filename) config.responseDisposition = attachmentDisposition(filename);
      if (contentType) config.responseType = contentType;
      const [url] = await file(key).getSignedUrl(config);
      return { url, method: 'GET', headers: {}, expiresAt: expires };
    },

    async stat(key) {
      try {
        const [meta] = await file(key).getMetadata();
        return { size: Number(meta.size ?? 0), contentType: meta.contentType ?? undefined };
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async read(key) {
      // Our own SHA-256 is computed over what is read; GCS's hashes are checked on upload.
      return file(key).createReadStream({ validation: false });
    },

    async write(key, body, { contentType, maxBytes, ifAbsent }): Promise<WriteResult> {
      const meter = new Meter(maxBytes);
      const source = body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
      // A single-request (multipart) upload: aborted midway, it creates no object at all.
      try {
        await pipeline(
          source,
          meter,
          file(key).createWriteStream({
            resumable: false,
            contentType,
            metadata: { contentType },
            validation: 'md5',
            ...(ifAbsent && { preconditionOpts: { ifGenerationMatch: 0 } }),
          }),
        );
      } catch (e) {
        if (ifAbsent && (e as { code?: number })?.code === 412) throw new ObjectExistsError(key);
        throw e;
      }
      return { size: meter.size, sha256: meter.digest() };
    },

    async delete(key) {
      await file(key).delete({ ignoreNotFound: true });
    },

    async deletePrefix(prefix) {
      assertPrefix(prefix);
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
      for (const f of files) await f.delete({ ignoreNotFound: true });
      return files.length;
    },
  };
}
