// A local HTTP server standing in for Google Cloud Storage, for the real @google-cloud/storage SDK
// (pointed at it with apiEndpoint) and for the V4 signed URLs it computes (whose host is that
// endpoint): JSON API uploads, metadata, media downloads, listing and deletes, plus PUT and GET on
// signed URLs. It records every request. It does not check signatures (the unit test does that).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredObject {
  body: Buffer;
  contentType: string;
  generation: number;
}

export interface FakeGcs {
  url: string;
  objects: Map<string, StoredObject>;
  requests: { method: string; path: string; query: URLSearchParams; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/** Splits a multipart/related body into its parts (headers text, body bytes). */
function parseMultipart(body: Buffer, boundary: string) {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: string; body: Buffer }[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2); // skip CRLF after the delimiter and before the next
    const split = part.indexOf('\r\n\r\n');
    parts.push({ headers: part.subarray(0, split).toString(), body: part.subarray(split + 4) });
    start = next;
  }
  return parts;
}

export async function startFakeGcs(bucket: string): Promise<FakeGcs> {
  const objects = new Map<string, StoredObject>();
  const requests: FakeGcs['requests'] = [];
  let generation = 1;
  const resource = (name: string, o: StoredObject) => ({
    kind: 'storage#object',
    id: `${bucket}/${name}/${o.generation}`,
    name,
    bucket,
    generation: String(o.generation),
    contentType: o.contentType,
    size: String(o.body.length),
    md5Hash: createHash('md5').update(o.body).digest('base64'),
    updated: new Date().toISOString(),
  });
  const notFound = { error: { code: 404, message: 'No such object.', errors: [{ reason: 'notFound' }] } };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    requests.push({ method: req.method ?? '', path, query: url.searchParams, headers: req.headers });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const body = await readBody(req);

    // JSON API: simple (multipart/related) upload.
    if (req.method === 'POST' && path === `/upload/storage/v1/b/${bucket}/o`) {
      const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
      if (!boundary) return json(400, { error: { code: 400, message: 'expected multipart/related' } });
      const [meta, media] = parseMultipart(body, boundary);
      const metadata = JSON.parse(meta!.body.toString()) as { name?: string; contentType?: string };
      const name = url.searchParams.get('name') ?? metadata.name!;
      const match = url.searchParams.get('ifGenerationMatch');
      if (match !== null && match !== String(objects.get(name)?.generation ?? 0)) {
        return json(412, { error: { code: 412, message: 'conditionNotMet' } });
      }
      const o = {
        body: media!.body,
        contentType: metadata.contentType ?? 'application/octet-stream',
        generation: generation++,
      };
      objects.set(name, o);
      return json(200, resource(name, o));
    }
    const objectPath = path.match(new RegExp(`^/storage/v1/b/${bucket}/o/(.+)$`));
    if (objectPath) {
      const name = decodeURIComponent(objectPath[1]!);
      const o = objects.get(name);
      if (req.method === 'DELETE') {
        if (!o) return json(404, notFound);
        objects.delete(name);
        return void res.writeHead(204).end();
      }
      if (!o) return json(404, notFound);
      if (url.searchParams.get('alt') === 'media') {
        return void res
          .writeHead(200, { 'content-type': o.contentType, 'content-length': o.body.length })
          .end(o.body);
      }
      return json(200, resource(name, o));
    }
    if (req.method === 'GET' && path === `/storage/v1/b/${bucket}/o`) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const items = [...objects].filter(([n]) => n.startsWith(prefix)).map(([n, o]) => resource(n, o));
      return json(200, { kind: 'storage#objects', items });
    }
    // Signed URLs (path style: /{bucket}/{object}).
    if (path.startsWith(`/${bucket}/`)) {
      const name = decodeURIComponent(path.slice(bucket.length + 2));
      if (!url.searchParams.get('X-Goog-Signature')) return json(403, { error: 'missing signature' });
      if (req.method === 'PUT') {
        // The XML API's precondition header (generation 0: only when no live object exists).
        const match = req.headers['x-goog-if-generation-match'];
        if (match !== undefined && match !== String(objects.get(name)?.generation ?? 0)) {
          return void res.writeHead(412).end('PreconditionFailed');
        }
        objects.set(name, {
          body,
          contentType: req.headers['content-type'] ?? 'application/octet-stream',
          generation: generation++,
        });
        return void res.writeHead(200).end();
      }
      const o = objects.get(name);
      if (!o) return void res.writeHead(404).end('NoSuchKey');
      const headers: Record<string, string> = {
        'content-type': url.searchParams.get('response-content-type') ?? o.contentType,
      };
      const disposition = url.searchParams.get('response-content-disposition');
      if (disposition) headers['content-disposition'] = disposition;
      return void res.writeHead(200, headers).end(o.body);
    }
    json(404, { error: { code: 404, message: `fake GCS: no route for ${req.method} ${path}` } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    objects,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
