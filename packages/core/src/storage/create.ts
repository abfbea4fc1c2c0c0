import type { Config } from '../config.js';
import { createGcsStorage } from './gcs.js';
import { createLocalStorage } from './local.js';
import type { Storage } from './types.js';

export interface CreateStorageOptions {
  /** The local driver's directory when STORAGE_DIR is unset (the server passes <repo>/.data/uploads). */
  defaultDir: string;
}

/**
 * GCS when GCP_BUCKET_NAME is set (signing with the key in GCP_SERVICE_FILE_CRED_JSON_LOCATION),
 * else files on local disk served by the API with signed URLs.
 */
export function createStorage(config: Config, options: CreateStorageOptions): Storage {
  if (config.gcs) {
    return createGcsStorage({ bucket: config.gcs.bucket, keyFilename: config.gcs.credentialsFile });
  }
  return createLocalStorage({
    dir: config.storage.dir ?? options.defaultDir,
    signingSecret: config.jwt.secret,
    publicUrl: config.apiHost ?? `http://localhost:${config.port}`,
  });
}

/** One line for start-up banners and logs. */
export function describeStorage(storage: Storage): string {
  if (storage.kind === 'gcs') return `Google Cloud Storage bucket ${(storage as { bucket?: string }).bucket}`;
  return `local disk at ${(storage as { dir?: string }).dir} (set GCP_BUCKET_NAME for Google Cloud Storage)`;
}
