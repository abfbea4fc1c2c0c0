// Asset rows and their objects, for the code that creates files outside an upload (the worker's
// exports and generated images) and for quota checks shared by the API's two upload paths.

import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { assets, type Db, type DbOrTx, type OrgRole } from '@woopdi/db';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { emitWebhookEvent } from '../webhooks/emit.js';
import type { Storage } from './types.js';

export type AssetSource = 'upload' | 'ai_generation' | 'export';
export const assetSources = ['upload', 'ai_generation', 'export'] as const;

/** Every object of an organization lives under this prefix. */
export const organizationPrefix = (organizationId: string) => `orgs/${organizationId}/`;

/** A file name reduced to storage-key characters (the original stays in the row). */
export function safeObjectName(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(-100);
  return cleaned || 'file';
}

export const assetObjectKey = (organizationId: string, assetId: string, filename: string) =>
  `${organizationPrefix(organizationId)}${assetId}/${safeObjectName(filename)}`;

/** Bytes an organization holds or has reserved (ready + pending assets). */
export async function storageUsage(db: DbOrTx, organizationId: string): Promise<number> {
  const [row] = await db
    .select({ total: sql<string>`coalesce(sum(${assets.size}), 0)` })
    .from(assets)
    .where(and(eq(assets.organizationId, organizationId), inArray(assets.status, ['pending', 'ready'])));
  return Number(row?.total ?? 0);
}

export interface StoreAssetInput {
  organizationId: string;
  uploadedBy: string | null;
  filename: string;
  contentType: string;
  source: AssetSource;
  meta?: Record<string, unknown>;
  /** The lowest organization role that may see the file; any member when absent. */
  minReadRole?: OrgRole | null;
  body: Readable | Uint8Array;
  maxBytes?: number;
}

/** Writes the object, then records it as a ready asset with its size and SHA-256. */
export async function storeAsset(deps: { db: Db; storage: Storage }, input: StoreAssetInput) {
  const id = randomUUID();
  const storageKey = assetObjectKey(input.organizationId, id, input.filename);
  const written = await deps.storage.write(storageKey, input.body, {
    contentType: input.contentType,
    ...(input.maxBytes !== undefined && { maxBytes: input.maxBytes }),
  });
  try {
    const row = await deps.db.transaction(async (tx) => {
      const [stored] = await tx
        .insert(assets)
        .values({
          id,
          organizationId: input.organizationId,
          uploadedBy: input.uploadedBy,
          storageKey,
          filename: input.filename,
          contentType: input.contentType,
          size: written.size,
          checksum: written.sha256,
          source: input.source,
          status: 'ready',
          meta: input.meta ?? {},
          minReadRole: input.minReadRole ?? null,
          completedAt: new Date(),
        })
        .returning();
      await emitWebhookEvent(tx, input.organizationId, 'asset.created', {
        assetId: id,
        filename: input.filename,
        contentType: input.contentType,
        size: written.size,
      });
      return stored!;
    });
    return row;
  } catch (error) {
    await deps.storage.delete(storageKey).catch(() => {});
    throw error;
  }
}
