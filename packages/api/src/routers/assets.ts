import { assetSources, uuid } from '@woopdi/core';
import { z } from 'zod';
import { cursor, isoDate, limit, orgRole } from '../schemas.js';
import * as assets from '../services/assets.js';
import { orgProcedure, orgResourceProcedure, router } from '../trpc.js';

const tags = ['assets'];

const source = z.enum(assetSources);
const status = z.enum(['pending', 'ready']);

const asset = z.object({
  id: uuid(),
  organizationId: uuid(),
  uploadedBy: uuid().nullable(),
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  checksum: z.string().nullable().describe('SHA-256 of the stored bytes (hex), computed by the server'),
  source,
  status,
  meta: z.record(z.string(), z.unknown()),
  minReadRole: orgRole
    .nullable()
    .describe('The lowest role that may see the file (an org_export is MODERATOR); null: any member'),
  createdAt: isoDate,
  completedAt: isoDate.nullable(),
});

/** Id-scoped: the asset is looked up within the caller's organizations, so another's id is 404. */
const byAsset = orgResourceProcedure('assetId', 'Asset', 'MEMBER', (ctx, id) =>
  assets.assetOrganization(ctx, id),
);
const assetInput = z.object({ organizationId: uuid(), assetId: uuid() });

export const assetsRouter = router({
  createUpload: orgProcedure('MEMBER')
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/assets/uploads',
        tags,
        summary: 'Start an upload: get a signed URL to PUT the file to',
        description:
          'Reserves the asset (pending) and answers a short-lived signed URL. Send the bytes with `method` to `uploadUrl` with exactly `headers`, then call POST /organizations/{organizationId}/assets/{assetId}/complete. 400 for a content type outside the allow-list (UPLOAD_CONTENT_TYPES) or a size over UPLOAD_MAX_BYTES; 412 when the file would take the organization past its plan\'s storage quota (pending and ready files count). `role: "logo"` marks the organization\'s logo (overlaid on generated images). Simple clients may instead POST multipart/form-data to /organizations/{organizationId}/assets/upload.',
      },
    })
    .input(
      z.object({
        organizationId: uuid(),
        filename: z.string().trim().min(1).max(255),
        contentType: z.string().trim().min(3).max(255).describe('MIME type, e.g. image/png'),
        size: z.number().int().min(1, { message: 'The file is empty' }).describe('Exact size in bytes'),
        role: z.enum(['logo']).optional(),
      }),
    )
    .output(
      z.object({
        assetId: uuid(),
        uploadUrl: z.string(),
        method: z.enum(['PUT', 'GET']),
        headers: z.record(z.string(), z.string()),
        expiresAt: isoDate,
      }),
    )
    .mutation(({ ctx, input }) => assets.createUpload(ctx, ctx.membership, input)),

  completeUpload: byAsset
    .meta({
      openapi: {
        method: 'POST',
        path: '/organizations/{organizationId}/assets/{assetId}/complete',
        tags,
        summary: 'Finish an upload: verify the stored file and mark it ready',
        description:
          'The server checks that the file exists with the declared size and content type (and, for common types, that its first bytes match), computes its SHA-256 and marks the asset ready. 400 when nothing was uploaded, or the file is larger or smaller than declared (a larger one is removed). Idempotent once ready.',
      },
    })
    .input(assetInput)
    .output(asset)
    .mutation(({ ctx, input }) =>
      assets.completeUpload(ctx, ctx.membership, input.organizationId, input.assetId),
    ),

  list: orgProcedure('MEMBER')
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/assets',
        tags,
        summary: "The organization's files, newest first",
        description:
          "Filter by `source` (upload, ai_generation, export) and `status`; pass `nextCursor` back as `cursor` for older ones. `usage` is the bytes held or reserved against the plan's quota.",
      },
    })
    .input(
      z.object({
        organizationId: uuid(),
        source: source.optional(),
        status: status.optional(),
        limit,
        cursor,
      }),
    )
    .output(
      z.object({
        assets: z.array(asset),
        nextCursor: z.string().nullable(),
        usage: z.object({ usedBytes: z.number().int(), quotaBytes: z.number().int() }),
      }),
    )
    .query(async ({ ctx, input }) => ({
      ...(await assets.listAssets(ctx, ctx.membership, input)),
      usage: await assets.usageOf(ctx, ctx.membership.organizationId),
    })),

  get: byAsset
    .meta({
      openapi: {
        method: 'GET',
        path: '/organizations/{organizationId}/assets/{assetId}',
        tags,
        summary: "A file's metadata and a short-lived download URL",
        description:
          "`downloadUrl` (null while the upload is pending) is signed and expires at `downloadUrlExpiresAt` (SIGNED_URL_TTL_SECONDS); ask again for a fresh one. Another organization's asset id answers 404.",
      },
    })
    .input(assetInput)
    .output(asset.extend({ downloadUrl: z.string().nullable(), downloadUrlExpiresAt: isoDate.nullable() }))
    .query(({ ctx, input }) => assets.getAsset(ctx, ctx.membership, input.organizationId, input.assetId)),

  delete: byAsset
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/organizations/{organizationId}/assets/{assetId}',
        tags,
        summary: 'Delete a file',
        description:
          'The member who uploaded it, or a MODERATOR or ADMIN. Removes the stored object and the record.',
      },
    })
    .input(assetInput)
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(({ ctx, input }) =>
      assets.deleteAsset(ctx, ctx.membership, input.organizationId, input.assetId),
    ),
});

/**
 * The multipart upload is an express route (its body is streamed to storage, which the REST bridge
 * cannot do); this documents it in /openapi.json beside the procedures.
 */
export const assetUploadPaths = {
  '/organizations/{organizationId}/assets/upload': {
    post: {
      operationId: 'assets-upload',
      tags,
      summary: 'Upload a file in one multipart/form-data request',
      description:
        'For simple clients: `curl -H "authorization: Bearer $TOKEN" -F file=@photo.png …/assets/upload`. The `file` part is streamed to storage as it arrives; the answer (201) is the ready asset with a download URL. An optional `role` field set to `logo` marks the organization\'s logo. Same rules as the signed-URL upload: any member; 400 for a type outside the allow-list or content that does not match it; 413 past UPLOAD_MAX_BYTES; 412 past the storage quota.',
      security: [{ bearer: [] }],
      parameters: [
        {
          name: 'organizationId',
          in: 'path' as const,
          required: true,
          schema: { type: 'string' as const, format: 'uuid' },
        },
      ],
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object' as const,
              required: ['file'],
              properties: {
                file: { type: 'string' as const, format: 'binary' },
                role: { type: 'string' as const, enum: ['logo'] },
              },
            },
          },
        },
      },
      responses: {
        '201': {
          description: 'The stored file',
          content: {
            'application/json': {
              schema: asset.extend({
                downloadUrl: z.string().nullable(),
                downloadUrlExpiresAt: isoDate.nullable(),
              }),
            },
          },
        },
        '400': { description: 'Type not allowed, content not of that type, no `file` part' },
        '401': { description: 'No valid access token' },
        '403': { description: 'Not a member of the organization' },
        '412': { description: 'Storage quota exceeded' },
        '413': { description: 'File larger than UPLOAD_MAX_BYTES' },
      },
    },
  },
};
