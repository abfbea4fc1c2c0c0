// POST /api/organizations/{organizationId}/assets/upload: one multipart/form-data request for simple
// clients (curl -F file=@photo.png). The file part is streamed to storage as it arrives — the
// server never holds the whole file — under the same rules as the signed-URL path: a member of the
// organization, the content-type allow-list, UPLOAD_MAX_BYTES (413) and the plan's storage quota (412).
import type { Readable } from 'node:stream';
import {
  type ApiDeps,
  appErrorOf,
  assertSupportMay,
  authenticate,
  createContextFactory,
  getAsset,
  logImpersonation,
  requireMembershipOf,
  runAsSupport,
  uploadStream,
} from '@woopdi/api';
import { AppError, badRequest } from '@woopdi/core';
import busboy from 'busboy';
import type { Request, RequestHandler } from 'express';
import { httpStatusOf } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Room for the multipart boundaries and part headers around the file. */
const MULTIPART_OVERHEAD = 64 * 1024;

/** Parses the request and streams its `file` part through `uploadStream`; resolves with the asset row. */
function receive(
  req: Request,
  maxBytes: number,
  store: (file: Readable, info: FileInfo) => Promise<{ id: string }>,
) {
  return new Promise<{ id: string }>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // One byte past the limit, so the storage write sees the overflow and fails with 413.
        limits: { files: 1, fileSize: maxBytes + 1, fields: 5, fieldSize: 1024, parts: 10 },
      });
    } catch {
      reject(badRequest('Send multipart/form-data with the file in a field named "file".'));
      return;
    }
    let role: string | undefined;
    let upload: Promise<{ id: string }> | undefined;
    parser.on('field', (name, value) => {
      if (name === 'role') role = value;
    });
    parser.on('file', (field, stream, info) => {
      if (field !== 'file' || upload) {
        stream.resume();
        return;
      }
      upload = store(stream, { filename: info.filename ?? 'file', mimeType: info.mimeType, role });
      // A refusal before the bytes were read (type, quota) must not leave the parser waiting on them.
      upload.catch(() => stream.resume());
    });
    parser.on('error', (e) => reject(badRequest(`The multipart body is malformed: ${(e as Error).message}`)));
    parser.on('close', () => {
      if (!upload) reject(badRequest('Send the file in a multipart field named "file".'));
      else upload.then(resolve, reject);
    });
    req.on('aborted', () => reject(badRequest('The upload was interrupted.')));
    req.pipe(parser);
  });
}

interface FileInfo {
  filename: string;
  mimeType: string;
  role: string | undefined;
}

export function assetUploadRoute(deps: ApiDeps): RequestHandler {
  const createContext = createContextFactory(deps);
  return async (req, res) => {
    const organizationId = String(req.params.organizationId ?? '');
    try {
      const ctx = createContext({ req });
      const session = await authenticate(ctx);
      if (!UUID.test(organizationId)) throw badRequest('organizationId: Invalid UUID');
      // An API key uploads as itself (its organization, its role), not as its creator.
      const membership = await requireMembershipOf(ctx, session, organizationId, 'MEMBER');
      // A support session uploads only with allowWrite, on the trail (middleware/impersonation.ts).
      const support = { type: 'mutation', path: 'assets.upload', organizationId } as const;
      if (session.impersonation) {
        logImpersonation(ctx, session);
        assertSupportMay(session, support);
      }
      if (!req.is('multipart/form-data')) {
        throw badRequest('Send multipart/form-data with the file in a field named "file".');
      }
      const maxBytes = deps.config.storage.maxUploadBytes;
      if (Number(req.headers['content-length']) > maxBytes + MULTIPART_OVERHEAD) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `The file is larger than the limit of ${maxBytes} bytes (UPLOAD_MAX_BYTES).`,
        );
      }
      const upload = () =>
        receive(req, maxBytes, (file, info) =>
          uploadStream(ctx, membership, {
            filename: info.filename,
            contentType: info.mimeType,
            body: file,
            role: info.role === 'logo' ? 'logo' : undefined,
          }),
        );
      const row = session.impersonation ? await runAsSupport(ctx, session, support, upload) : await upload();
      res.status(201).json(await getAsset(ctx, membership, organizationId, row.id));
    } catch (error) {
      const appError = appErrorOf(error);
      // Whatever of the body is still coming is read and dropped, so the client gets this answer.
      req.unpipe();
      req.resume();
      if (!appError) {
        req.log?.error({ err: error }, 'multipart upload failed');
        res.status(500).json({
          code: 'INTERNAL_SERVER_ERROR',
          message: 'Something went wrong on our side. It has been logged; try again shortly.',
        });
        return;
      }
      res.status(httpStatusOf[appError.code] ?? 400).json({ code: appError.code, message: appError.message });
    }
  };
}
