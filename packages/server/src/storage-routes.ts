// The local storage driver's signed URLs land here: PUT /storage/{key} (upload) and GET /storage/{key}
// (download), each allowed only by a valid, unexpired signature over exactly what it grants.
import { pipeline } from 'node:stream/promises';
import { assertObjectKey, attachmentDisposition, type LocalStorage, type Logger } from '@woopdi/core';
import type { Request, RequestHandler, Response } from 'express';

const deny = (res: Response, reason: 'expired' | 'invalid' | 'header') =>
  void res.status(403).json({
    code: 'FORBIDDEN',
    message:
      reason === 'expired'
        ? 'This signed URL has expired: ask the API for a new one.'
        : reason === 'header'
          ? 'The request does not match what this URL was signed for (Content-Type).'
          : 'This URL is not validly signed.',
  });

/** Reads the rest of a request we answered early, so the client receives the answer. */
const drain = (req: Request) => {
  req.unpipe();
  req.resume();
};

const spent = (res: Response) =>
  void res.status(409).json({
    code: 'CONFLICT',
    message:
      'This upload URL was already used: the file is stored (or the upload was completed or deleted). Start a new upload to send another file.',
  });

/**
 * `uploadPending(key)`: whether the object's upload is still pending (its asset not completed or
 * deleted); a signed upload URL writes once, and never after that.
 */
export function storageRoutes(
  storage: LocalStorage,
  logger: Logger,
  uploadPending: (key: string) => Promise<boolean>,
): RequestHandler {
  return async (req, res, next) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (method !== 'GET' && method !== 'PUT') return next();
    let key: string;
    try {
      key = decodeURIComponent(req.path.replace(/^\/+/, ''));
      assertObjectKey(key);
    } catch {
      return void res.status(404).json({ code: 'NOT_FOUND', message: 'No such file.' });
    }
    const query = new URL(req.originalUrl, 'http://localhost').searchParams;
    const check = storage.verify(method, key, query);
    if (!check.ok) {
      if (method === 'PUT') drain(req);
      return deny(res, check.reason);
    }
    const { grant } = check;

    if (method === 'PUT') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== grant.contentType) {
        drain(req);
        return deny(res, 'header');
      }
      const declared = Number(req.headers['content-length']);
      const tooLarge = () =>
        void res.status(413).json({
          code: 'PAYLOAD_TOO_LARGE',
          message: `This URL accepts at most ${grant.maxBytes} bytes.`,
        });
      if (grant.maxBytes !== undefined && declared > grant.maxBytes) {
        drain(req);
        return tooLarge();
      }
      if (!(await uploadPending(key)) || (await storage.stat(key))) {
        drain(req);
        return spent(res);
      }
      try {
        const written = await storage.write(key, req, {
          contentType,
          // Create-only: of two PUTs racing past the checks above, one writes and one is refused.
          ifAbsent: true,
          ...(grant.maxBytes !== undefined && { maxBytes: grant.maxBytes }),
        });
        return void res.status(200).json({ size: written.size });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'PAYLOAD_TOO_LARGE' || code === 'ALREADY_EXISTS') {
          drain(req);
          return code === 'ALREADY_EXISTS' ? spent(res) : tooLarge();
        }
        throw error;
      }
    }

    const info = await storage.stat(key);
    if (!info) return void res.status(404).json({ code: 'NOT_FOUND', message: 'No such file.' });
    res.setHeader('Content-Type', grant.contentType);
    res.setHeader('Content-Length', String(info.size));
    // Signed URLs are meant to be embedded (an <img> on the web client's origin).
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Cache-Control', 'private, max-age=60');
    if (grant.downloadName) res.setHeader('Content-Disposition', attachmentDisposition(grant.downloadName));
    if (req.method === 'HEAD') return void res.end();
    try {
      await pipeline(await storage.read(key), res);
    } catch (err) {
      // The client went away mid-download, or the file vanished: nothing more to answer.
      logger.debug({ err, key }, 'download ended early');
    }
  };
}
