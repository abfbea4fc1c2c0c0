// The local driver: objects are files under `dir` (default <repo>/.data/uploads), their content
// types in `dir/.meta`. Clients reach them through the API server's /storage/{key} route with
// HMAC-signed, expiring URLs — the same flow as GCS signed URLs, so clients need no second code path.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Meter } from './meter.js';
import {
  deriveUrlSigningKey,
  type GrantCheck,
  grantQuery,
  type LocalGrant,
  type SignedMethod,
  verifyGrant,
} from './signing.js';
import {
  assertObjectKey,
  assertPrefix,
  ObjectExistsError,
  type ObjectInfo,
  type SignedUrl,
  type Storage,
  type WriteOptions,
  type WriteResult,
} from './types.js';

export interface LocalStorageOptions {
  dir: string;
  /** Secret the URL signing key is derived from (JWT_SECRET). */
  signingSecret: string | Buffer;
  /** Base URL of the API server that serves /storage (e.g. http://localhost:8000). */
  publicUrl: string;
}

export interface LocalStorage extends Storage {
  readonly kind: 'local';
  readonly dir: string;
  /** Checks a request to /storage/{key} against its signature and expiry. */
  verify(method: SignedMethod, key: string, query: URLSearchParams): GrantCheck;
  /** The base URL signed URLs point at; the server sets it once it knows its port. */
  publicUrl: string;
}

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

/** "orgs/a/b c" → "orgs/a/b%20c": each segment encoded, slashes kept. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

export function createLocalStorage(options: LocalStorageOptions): LocalStorage {
  const { dir } = options;
  const signingKey = deriveUrlSigningKey(options.signingSecret);
  const objectPath = (key: string) => {
    assertObjectKey(key);
    return join(dir, key);
  };
  const metaPath = (key: string) => join(dir, '.meta', `${key}.json`);

  const sign = (grant: LocalGrant): SignedUrl => ({
    url: `${storage.publicUrl}/storage/${encodeKey(grant.key)}?${grantQuery(signingKey, grant)}`,
    method: grant.method,
    headers: grant.method === 'PUT' ? { 'content-type': grant.contentType } : {},
    expiresAt: new Date(grant.expires * 1000),
  });
  const expiry = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

  async function countFiles(path: string): Promise<number> {
    try {
      const entries = await readdir(path, { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).length;
    } catch (e) {
      if (isMissing(e)) return 0;
      throw e;
    }
  }

  const storage: LocalStorage = {
    kind: 'local',
    dir,
    publicUrl: options.publicUrl.replace(/\/+$/, ''),

    async signedUploadUrl(key, { contentType, maxBytes, expiresInSeconds }) {
      assertObjectKey(key);
      return sign({ method: 'PUT', key, expires: expiry(expiresInSeconds), contentType, maxBytes });
    },

    async signedDownloadUrl(key, { expiresInSeconds, filename, contentType }) {
      assertObjectKey(key);
      const type = contentType ?? (await storage.stat(key))?.contentType ?? 'application/octet-stream';
      return sign({
        method: 'GET',
        key,
        expires: expiry(expiresInSeconds),
        contentType: type,
        downloadName: filename,
      });
    },

    verify: (method, key, query) => verifyGrant(signingKey, method, key, query),

    async stat(key): Promise<ObjectInfo | undefined> {
      try {
        const s = await stat(objectPath(key));
        if (!s.isFile()) return undefined;
        const meta = await readFile(metaPath(key), 'utf8').then(
          (text) => JSON.parse(text) as { contentType?: string },
          () => ({}) as { contentType?: string },
        );
        return { size: s.size, contentType: meta.contentType };
      } catch (e) {
        if (isMissing(e)) return undefined;
        throw e;
      }
    },

    async read(key) {
      // Opened first, so a missing object rejects here rather than as a stream error later.
      const handle = await open(objectPath(key), 'r');
      return handle.createReadStream();
    },

    async write(key, body, { contentType, maxBytes, ifAbsent }: WriteOptions): Promise<WriteResult> {
      const path = objectPath(key);
      // Written beside the storage tree and renamed into place: a reader never sees half a file.
      const tmpDir = join(dir, '.tmp');
      const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
      await mkdir(tmpDir, { recursive: true });
      const meter = new Meter(maxBytes);
      try {
        const source = body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
        await pipeline(source, meter, createWriteStream(tmp));
        await mkdir(dirname(path), { recursive: true });
        await mkdir(dirname(metaPath(key)), { recursive: true });
        if (ifAbsent) {
          // link(2) fails with EEXIST when the name is taken: create-only, atomically.
          try {
            await link(tmp, path);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(key);
            throw e;
          }
          await rm(tmp, { force: true });
          await writeFile(metaPath(key), JSON.stringify({ contentType }));
        } else {
          await writeFile(metaPath(key), JSON.stringify({ contentType }));
          await rename(tmp, path);
        }
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
      return { size: meter.size, sha256: meter.digest() };
    },

    async delete(key) {
      await rm(objectPath(key), { force: true });
      await rm(metaPath(key), { force: true });
    },

    async deletePrefix(prefix) {
      assertPrefix(prefix);
      const path = join(dir, prefix);
      const n = await countFiles(path);
      await rm(path, { recursive: true, force: true });
      await rm(join(dir, '.meta', prefix), { recursive: true, force: true });
      return n;
    },
  };
  return storage;
}

export const isLocalStorage = (storage: Storage): storage is LocalStorage => storage.kind === 'local';
