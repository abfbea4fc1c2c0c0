// Files of an organization (DESIGN §3 assets). Two ways in: a signed upload URL (createUpload, the
// client PUTs the bytes, completeUpload verifies them) and the multipart route for simple clients
// (uploadStream). The client is never trusted: sizes, types and checksums are measured here.
import { createHash, randomUUID } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import {
  AppError,
  type AssetSource,
  assetObjectKey,
  badRequest,
  emitWebhookEvent,
  forbidden,
  notFound,
  preconditionFailed,
  storageUsage,
} from '@woopdi/core';
import { assets, type DbOrTx, type OrgRole, organizations } from '@woopdi/db';
import { and, desc, eq, inArray, isNull, or } from 'drizzle-orm';
import { hasOrgRole, type Membership, orgRoleRank } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { entitlementsOf } from './entitlements.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';

type AssetRow = typeof assets.$inferSelect;

export const publicAsset = (a: AssetRow) => ({
  id: a.id,
  organizationId: a.organizationId,
  uploadedBy: a.uploadedBy,
  filename: a.filename,
  contentType: a.contentType,
  size: a.size,
  checksum: a.checksum,
  source: a.source as AssetSource,
  status: a.status,
  meta: a.meta,
  minReadRole: a.minReadRole,
  createdAt: a.createdAt.toISOString(),
  completedAt: a.completedAt?.toISOString() ?? null,
});

/** "Image/PNG; charset=x" → "image/png": the allow-list and the stored type use the essence only. */
export const normalizeContentType = (contentType: string) => contentType.split(';')[0]!.trim().toLowerCase();

const mb = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;

/** The type allow-list and size limit of the configuration; BAD_REQUEST outside them. */
export function assertAllowed(deps: Pick<ServiceDeps, 'config'>, contentType: string, size?: number) {
  const { allowedContentTypes, maxUploadBytes } = deps.config.storage;
  if (!allowedContentTypes.includes(contentType)) {
    throw badRequest(
      `contentType: "${contentType}" files are not accepted. Allowed: ${allowedContentTypes.join(', ')}.`,
    );
  }
  if (size !== undefined && size > maxUploadBytes) {
    throw badRequest(`size: the file is ${mb(size)}; the limit is ${mb(maxUploadBytes)} (UPLOAD_MAX_BYTES).`);
  }
}

/**
 * Locks the organization row (uploads of one organization queue here, so two cannot both squeeze
 * under the quota) and refuses with PRECONDITION_FAILED if `adding` bytes would pass it.
 */
async function reserveQuota(
  deps: Pick<ServiceDeps, 'config'>,
  tx: DbOrTx,
  organizationId: string,
  adding: number,
) {
  await tx
    .select({ id: organizations.id })
    .from(organizations)
    .where(eq(organizations.id, organizationId))
    .for('update');
  const { plan } = await entitlementsOf(deps, tx, organizationId);
  const used = await storageUsage(tx, organizationId);
  if (used + adding > plan.storageQuotaBytes) {
    throw preconditionFailed(
      `Storage quota exceeded: the organization uses ${mb(used)} of the ${mb(plan.storageQuotaBytes)} its ${plan.name} plan allows, and this file needs ${mb(adding)}. Delete files or upgrade the plan.`,
    );
  }
}

// Magic numbers of the common types whose first bytes say what they are. A file that claims one of
// these types but is something else is refused (an executable uploaded as image/png, say).
const signatures: Record<string, (head: Buffer) => boolean> = {
  'image/png': (h) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff,
  'image/gif': (h) => /^GIF8[79]a/.test(h.subarray(0, 6).toString('latin1')),
  'image/webp': (h) =>
    h.subarray(0, 4).toString('latin1') === 'RIFF' && h.subarray(8, 12).toString('latin1') === 'WEBP',
  'application/pdf': (h) => h.subarray(0, 5).toString('latin1') === '%PDF-',
  'application/zip': (h) => h[0] === 0x50 && h[1] === 0x4b,
};

export function contentMatchesType(contentType: string, head: Buffer): boolean {
  return signatures[contentType]?.(head) ?? true;
}

/** Keeps the first bytes passing through (for the type check). */
class HeadCapture extends Transform {
  head = Buffer.alloc(0);
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    if (this.head.length < 16)
      this.head = Buffer.concat([this.head, chunk.subarray(0, 16 - this.head.length)]);
    callback(null, chunk);
  }
}

/** The organization of an asset, for the gate that resolves `assetId`. */
export async function assetOrganization(deps: Pick<ServiceDeps, 'db'>, assetId: string) {
  const [row] = await deps.db
    .select({ organizationId: assets.organizationId })
    .from(assets)
    .where(eq(assets.id, assetId));
  return row?.organizationId;
}

/**
 * Assets the caller's role may see: those without a minimum read role, and those whose role it
 * reaches. The others are hidden like another organization's (absent from lists, 404 by id).
 */
const readableBy = (role: OrgRole) => {
  const reached = (Object.keys(orgRoleRank) as OrgRole[]).filter((r) => hasOrgRole(role, r));
  return or(isNull(assets.minReadRole), inArray(assets.minReadRole, reached));
};

/** The asset within the caller's organization (the one named in the path, too), else NOT_FOUND. */
async function load(deps: ServiceDeps, actor: Membership, organizationId: string, assetId: string) {
  if (organizationId !== actor.organizationId) throw notFound('Asset');
  const [row] = await deps.db
    .select()
    .from(assets)
    .where(
      and(eq(assets.id, assetId), eq(assets.organizationId, actor.organizationId), readableBy(actor.role)),
    );
  if (!row) throw notFound('Asset');
  return row;
}

export interface CreateUploadInput {
  filename: string;
  contentType: string;
  size: number;
  /** "logo": the organization's logo, overlaid on generated images. */
  role?: 'logo' | undefined;
}

/** Reserves the asset (pending, counted against the quota) and signs a URL to PUT its bytes to. */
export async function createUpload(deps: ServiceDeps, actor: Membership, input: CreateUploadInput) {
  const contentType = normalizeContentType(input.contentType);
  assertAllowed(deps, contentType, input.size);
  const id = randomUUID();
  const storageKey = assetObjectKey(actor.organizationId, id, input.filename);
  await deps.db.transaction(async (tx) => {
    await reserveQuota(deps, tx, actor.organizationId, input.size);
    await tx.insert(assets).values({
      id,
      organizationId: actor.organizationId,
      uploadedBy: actor.userId,
      storageKey,
      filename: input.filename,
      contentType,
      size: input.size,
      source: 'upload',
      status: 'pending',
      meta: input.role ? { role: input.role } : {},
    });
  });
  const signed = await deps.storage.signedUploadUrl(storageKey, {
    contentType,
    maxBytes: input.size,
    expiresInSeconds: deps.config.storage.signedUrlTtlSeconds,
  });
  return {
    assetId: id,
    uploadUrl: signed.url,
    method: signed.method,
    headers: signed.headers,
    expiresAt: signed.expiresAt.toISOString(),
  };
}

/**
 * Verifies what was uploaded — it exists, has the declared size and type, and starts like a file of
 * that type — computes its SHA-256 and marks the asset ready. Completing twice is harmless.
 */
export async function completeUpload(
  deps: ServiceDeps,
  actor: Membership,
  organizationId: string,
  assetId: string,
) {
  const row = await load(deps, actor, organizationId, assetId);
  if (row.status === 'ready') return publicAsset(row);
  const info = await deps.storage.stat(row.storageKey);
  if (!info) {
    throw badRequest('No file has been uploaded for this asset yet: PUT the bytes to its uploadUrl first.');
  }
  if (info.size > row.size || info.size > deps.config.storage.maxUploadBytes) {
    // Space nobody reserved: removed at once rather than left for the hourly clean-up.
    await deps.storage.delete(row.storageKey);
    throw badRequest(
      `The uploaded file is ${info.size} bytes, more than the ${row.size} declared; it was removed. Start a new upload.`,
    );
  }
  // An upload URL writes once: a refused file is removed, so the same URL can send the right one.
  const refuse = async (message: string) => {
    await deps.storage.delete(row.storageKey);
    return badRequest(message);
  };
  if (info.size !== row.size) {
    throw await refuse(
      `The uploaded file is ${info.size} bytes, not the ${row.size} declared; it was removed. Upload it again.`,
    );
  }
  if (info.contentType !== undefined && normalizeContentType(info.contentType) !== row.contentType) {
    throw await refuse(
      `The uploaded file is stored as "${info.contentType}", not the "${row.contentType}" declared; it was removed. Upload it again.`,
    );
  }
  const { sha256, size, head } = await digest(await deps.storage.read(row.storageKey));
  if (size !== row.size) throw badRequest('The uploaded file changed while it was checked. Try again.');
  if (!contentMatchesType(row.contentType, head)) {
    throw await refuse(
      `The uploaded file is not a ${row.contentType} file; it was removed. Upload a file of the declared type.`,
    );
  }
  const updated = await deps.db.transaction(async (tx) => {
    const [ready] = await tx
      .update(assets)
      .set({ status: 'ready', checksum: sha256, completedAt: new Date() })
      .where(eq(assets.id, row.id))
      .returning();
    if (!ready) throw notFound('Asset');
    await emitWebhookEvent(tx, ready.organizationId, 'asset.created', {
      assetId: ready.id,
      filename: ready.filename,
      contentType: ready.contentType,
      size: ready.size,
    });
    return ready;
  });
  return publicAsset(updated);
}

/**
 * Whether a signed upload URL for this object may still write: its asset exists and is pending.
 * Once completed (or deleted) the URL is spent, even before it expires.
 */
export async function isPendingUpload(deps: Pick<ServiceDeps, 'db'>, storageKey: string) {
  const [row] = await deps.db
    .select({ status: assets.status })
    .from(assets)
    .where(eq(assets.storageKey, storageKey));
  return row?.status === 'pending';
}

async function digest(stream: Readable) {
  const hash = createHash('sha256');
  let size = 0;
  let head = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (head.length < 16) head = Buffer.concat([head, chunk.subarray(0, 16 - head.length)]);
    size += chunk.length;
    hash.update(chunk);
  }
  return { sha256: hash.digest('hex'), size, head };
}

export async function listAssets(
  deps: ServiceDeps,
  actor: Membership,
  input: {
    source?: AssetSource | undefined;
    status?: 'pending' | 'ready' | undefined;
    limit: number;
    cursor?: string | undefined;
  },
) {
  const before = decodeCursor(input.cursor);
  const rows = await deps.db
    .select()
    .from(assets)
    .where(
      and(
        eq(assets.organizationId, actor.organizationId),
        readableBy(actor.role),
        input.source ? eq(assets.source, input.source) : undefined,
        input.status ? eq(assets.status, input.status) : undefined,
        keysetAfter(assets.createdAt, assets.id, before, 'desc'),
      ),
    )
    .orderBy(desc(assets.createdAt), desc(assets.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (a) => ({ at: a.createdAt, id: a.id }));
  return { assets: items.map(publicAsset), nextCursor };
}

/** A short-lived URL to download a ready asset (as an attachment under its original name). */
export async function downloadUrlOf(deps: Pick<ServiceDeps, 'storage' | 'config'>, row: AssetRow) {
  if (row.status !== 'ready') return null;
  const signed = await deps.storage.signedDownloadUrl(row.storageKey, {
    expiresInSeconds: deps.config.storage.signedUrlTtlSeconds,
    filename: row.filename,
    contentType: row.contentType,
  });
  return { url: signed.url, expiresAt: signed.expiresAt.toISOString() };
}

export async function getAsset(
  deps: ServiceDeps,
  actor: Membership,
  organizationId: string,
  assetId: string,
) {
  const row = await load(deps, actor, organizationId, assetId);
  const download = await downloadUrlOf(deps, row);
  return {
    ...publicAsset(row),
    downloadUrl: download?.url ?? null,
    downloadUrlExpiresAt: download?.expiresAt ?? null,
  };
}

/** The uploader, or a MODERATOR or ADMIN, deletes the object and then the row. */
export async function deleteAsset(
  deps: ServiceDeps,
  actor: Membership,
  organizationId: string,
  assetId: string,
) {
  const row = await load(deps, actor, organizationId, assetId);
  if (row.uploadedBy !== actor.userId && !hasOrgRole(actor.role, 'MODERATOR')) {
    throw forbidden('Only the member who uploaded this file, or a MODERATOR or ADMIN, can delete it.');
  }
  // Object first: if storage fails the row stays and the delete can be retried; never an orphan object.
  await deps.storage.delete(row.storageKey);
  await deps.db.transaction(async (tx) => {
    await tx.delete(assets).where(eq(assets.id, row.id));
    await audit(tx, {
      organizationId: row.organizationId,
      actorUserId: actor.userId,
      action: 'asset.deleted',
      target: { type: 'asset', id: row.id },
      metadata: { filename: row.filename, size: row.size, source: row.source },
    });
    await emitWebhookEvent(tx, row.organizationId, 'asset.deleted', { assetId: row.id });
  });
  return { deleted: true as const };
}

/**
 * The multipart path: streams `body` to storage (never the whole file in memory), measuring size
 * and SHA-256 on the way, then records a ready asset if the organization's quota still has room.
 */
export async function uploadStream(
  deps: ServiceDeps,
  actor: Membership,
  input: { filename: string; contentType: string; body: Readable; role?: 'logo' | undefined },
) {
  const contentType = normalizeContentType(input.contentType);
  const filename = input.filename.trim().slice(0, 255) || 'file';
  assertAllowed(deps, contentType);
  // A full organization is told before any byte is stored.
  await reserveQuota(deps, deps.db, actor.organizationId, 0);
  const id = randomUUID();
  const storageKey = assetObjectKey(actor.organizationId, id, filename);
  const head = new HeadCapture();
  // pipe() does not forward errors: a client that disconnects midway must fail the write.
  input.body.once('error', (e) => head.destroy(e));
  const written = await deps.storage.write(storageKey, input.body.pipe(head), {
    contentType,
    maxBytes: deps.config.storage.maxUploadBytes,
  });
  try {
    if (written.size === 0) throw badRequest('file: the file is empty.');
    if (!contentMatchesType(contentType, head.head)) {
      throw badRequest(`file: this is not a ${contentType} file. Send the file's real type.`);
    }
    const [row] = await deps.db.transaction(async (tx) => {
      await reserveQuota(deps, tx, actor.organizationId, written.size);
      const inserted = await tx
        .insert(assets)
        .values({
          id,
          organizationId: actor.organizationId,
          uploadedBy: actor.userId,
          storageKey,
          filename,
          contentType,
          size: written.size,
          checksum: written.sha256,
          source: 'upload',
          status: 'ready',
          meta: input.role ? { role: input.role } : {},
          completedAt: new Date(),
        })
        .returning();
      await emitWebhookEvent(tx, actor.organizationId, 'asset.created', {
        assetId: id,
        filename,
        contentType,
        size: written.size,
      });
      return inserted;
    });
    return row!;
  } catch (error) {
    await deps.storage.delete(storageKey).catch(() => {});
    throw error;
  }
}

export const isPayloadTooLarge = (e: unknown) => e instanceof AppError && e.code === 'PAYLOAD_TOO_LARGE';

/** Bytes held or reserved, and what the organization's plan allows. */
export async function usageOf(deps: Pick<ServiceDeps, 'config' | 'db'>, organizationId: string) {
  const { plan } = await entitlementsOf(deps, deps.db, organizationId);
  return { usedBytes: await storageUsage(deps.db, organizationId), quotaBytes: plan.storageQuotaBytes };
}
