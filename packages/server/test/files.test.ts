// Files over HTTP against the real server: the local driver's signed URLs (/storage/{key}), the REST
// procedures under /api/organizations/{organizationId}/assets…, and the streamed multipart upload.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { LocalStorage } from '@woopdi/core';
import { assets, memberships } from '@woopdi/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

const MB = 1024 * 1024;
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(200, 1),
]);

let server: TestServer;
let storage: LocalStorage;
beforeAll(async () => {
  // A 21 MB limit: the 20 MB upload fits, 22 MB does not.
  server = await startTestServer({ UPLOAD_MAX_BYTES: String(21 * MB) });
  storage = server.deps.storage as LocalStorage;
});
afterAll(() => server.close());

interface Person {
  token: string;
  userId: string;
}
async function signup(): Promise<Person> {
  const res = await call<{ user: { id: string }; tokens: { accessToken: string } }>(
    `${server.url}/api/auth/signup`,
    {
      body: { email: uniqueEmail('files'), password: PASSWORD },
    },
  );
  expect(res.status, res.text).toBe(200);
  return { token: res.body.tokens.accessToken, userId: res.body.user.id };
}
async function teamOf(person: Person, name = 'Files') {
  const res = await call<{ id: string }>(`${server.url}/api/organizations/create-organization`, {
    body: { name },
    token: person.token,
  });
  expect(res.status, res.text).toBe(200);
  return res.body.id;
}
const api = <T = Record<string, unknown>>(path: string, init: Parameters<typeof call>[1] = {}) =>
  call<T>(`${server.url}/api${path}`, init);

interface UploadTicket {
  assetId: string;
  uploadUrl: string;
  method: string;
  headers: Record<string, string>;
  expiresAt: string;
}

describe('signed URLs of the local driver', () => {
  it('a file goes up with PUT to the upload URL and comes down from the download URL', async () => {
    const owner = await signup();
    const organizationId = await teamOf(owner);
    const ticket = await api<UploadTicket>(`/organizations/${organizationId}/assets/uploads`, {
      token: owner.token,
      body: { filename: 'pixel.png', contentType: 'image/png', size: PNG.length },
    });
    expect(ticket.status, ticket.text).toBe(200);
    expect(ticket.body.uploadUrl.startsWith(`${server.url}/storage/orgs/${organizationId}/`)).toBe(true);
    const put = await fetch(ticket.body.uploadUrl, {
      method: 'PUT',
      headers: ticket.body.headers,
      body: PNG,
    });
    expect(put.status).toBe(200);

    const done = await api(`/organizations/${organizationId}/assets/${ticket.body.assetId}/complete`, {
      method: 'POST',
      token: owner.token,
    });
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({
      status: 'ready',
      checksum: createHash('sha256').update(PNG).digest('hex'),
    });

    const got = await api<{ downloadUrl: string }>(
      `/organizations/${organizationId}/assets/${ticket.body.assetId}`,
      {
        token: owner.token,
      },
    );
    const res = await fetch(got.body.downloadUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="pixel.png"; filename*=UTF-8''pixel.png`,
    );
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);

    const list = await api<{ assets: { id: string }[] }>(
      `/organizations/${organizationId}/assets?source=upload`,
      {
        token: owner.token,
      },
    );
    expect(list.body.assets.map((a) => a.id)).toEqual([ticket.body.assetId]);
    const deleted = await api(`/organizations/${organizationId}/assets/${ticket.body.assetId}`, {
      method: 'DELETE',
      token: owner.token,
    });
    expect(deleted.body).toEqual({ deleted: true });
    expect((await fetch(got.body.downloadUrl)).status).toBe(404);
  });

  it('an expired or tampered URL is 403; a wrong Content-Type is 403; a body past the signed size is 413', async () => {
    // A pending upload's object key (a signed URL writes only while its asset is pending).
    const owner = await signup();
    const organizationId = await teamOf(owner, 'Probe');
    const ticket = await api<UploadTicket>(`/organizations/${organizationId}/assets/uploads`, {
      token: owner.token,
      body: { filename: 'file.png', contentType: 'image/png', size: PNG.length },
    });
    expect(ticket.status, ticket.text).toBe(200);
    const key = decodeURIComponent(new URL(ticket.body.uploadUrl).pathname.slice('/storage/'.length));
    const put = (url: string, body: Buffer = PNG, type = 'image/png') =>
      fetch(url, { method: 'PUT', headers: { 'content-type': type }, body });

    const expired = await storage.signedUploadUrl(key, {
      contentType: 'image/png',
      maxBytes: 1000,
      expiresInSeconds: -1,
    });
    const res = await put(expired.url);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toContain('expired');

    const valid = await storage.signedUploadUrl(key, {
      contentType: 'image/png',
      maxBytes: PNG.length,
      expiresInSeconds: 60,
    });
    const tamper = (param: string, value: string) => {
      const u = new URL(valid.url);
      u.searchParams.set(param, value);
      return u.toString();
    };
    for (const url of [
      tamper('max', String(100 * MB)),
      tamper('ct', 'text/html'),
      tamper('expires', String(Math.floor(Date.now() / 1000) + 86_400)),
      tamper('sig', `${new URL(valid.url).searchParams.get('sig')!.slice(0, -2)}AA`),
      valid.url.replace(`/${ticket.body.assetId}/`, '/other/'),
    ]) {
      expect((await put(url)).status, url).toBe(403);
    }
    expect((await put(valid.url, PNG, 'text/html')).status).toBe(403);
    expect((await put(valid.url, Buffer.concat([PNG, PNG]))).status).toBe(413);
    expect(await storage.stat(key)).toBeUndefined();
    expect((await put(valid.url)).status).toBe(200);

    const download = await storage.signedDownloadUrl(key, { expiresInSeconds: 60, filename: 'file.png' });
    expect((await fetch(download.url)).status).toBe(200);
    const u = new URL(download.url);
    u.searchParams.set('dl', 'evil.html');
    expect((await fetch(u)).status).toBe(403);
    const old = await storage.signedDownloadUrl(key, { expiresInSeconds: -1 });
    expect((await fetch(old.url)).status).toBe(403);
  });

  it('an upload URL writes once: a second PUT is 409, before or after completion, and after a delete', async () => {
    const owner = await signup();
    const organizationId = await teamOf(owner, 'Once');
    const ticket = await api<UploadTicket>(`/organizations/${organizationId}/assets/uploads`, {
      token: owner.token,
      body: { filename: 'once.png', contentType: 'image/png', size: PNG.length },
    });
    const put = (body: Buffer) =>
      fetch(ticket.body.uploadUrl, { method: 'PUT', headers: ticket.body.headers, body });
    expect((await put(PNG)).status).toBe(200);
    const other = Buffer.from(PNG);
    other[100] = 9; // same size and type, other bytes
    const early = await put(other);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { message: string }).message).toMatch(/already used.*new upload/);

    const done = await api<{ checksum: string }>(
      `/organizations/${organizationId}/assets/${ticket.body.assetId}/complete`,
      { method: 'POST', token: owner.token },
    );
    expect(done.status, done.text).toBe(200);
    const again = await put(other);
    expect(again.status).toBe(409);
    // Concurrent replacement attempts too: none gets through.
    expect((await Promise.all([put(other), put(other), put(other)])).map((r) => r.status)).toEqual([
      409, 409, 409,
    ]);
    const got = await api<{ downloadUrl: string; checksum: string }>(
      `/organizations/${organizationId}/assets/${ticket.body.assetId}`,
      { token: owner.token },
    );
    const served = Buffer.from(await (await fetch(got.body.downloadUrl)).arrayBuffer());
    expect(served.equals(PNG)).toBe(true);
    expect(createHash('sha256').update(served).digest('hex')).toBe(got.body.checksum);

    // Deleted: the URL stays spent (no orphan file outside any quota).
    await api(`/organizations/${organizationId}/assets/${ticket.body.assetId}`, {
      method: 'DELETE',
      token: owner.token,
    });
    expect((await put(PNG)).status).toBe(409);
    expect(await storage.stat(decodeURIComponent(new URL(ticket.body.uploadUrl).pathname.slice(9)))).toBe(
      undefined,
    );
  });

  it('a file refused at completion is removed, so the same URL can send the right one', async () => {
    const owner = await signup();
    const organizationId = await teamOf(owner, 'Retry');
    const ticket = await api<UploadTicket>(`/organizations/${organizationId}/assets/uploads`, {
      token: owner.token,
      body: { filename: 'retry.png', contentType: 'image/png', size: PNG.length },
    });
    const put = (body: Buffer) =>
      fetch(ticket.body.uploadUrl, { method: 'PUT', headers: ticket.body.headers, body });
    const complete = () =>
      api(`/organizations/${organizationId}/assets/${ticket.body.assetId}/complete`, {
        method: 'POST',
        token: owner.token,
      });
    expect((await put(Buffer.alloc(PNG.length, 1))).status).toBe(200); // not a PNG
    const refused = await complete();
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/not a image\/png file; it was removed/);
    expect((await put(PNG)).status).toBe(200);
    expect((await complete()).status).toBe(200);
  });

  it('REST maps the rules: 400 for a type or size outside them, 404 for another organization’s asset', async () => {
    const a = await signup();
    const b = await signup();
    const orgA = await teamOf(a, 'Alpha');
    const orgB = await teamOf(b, 'Bravo');
    const bad = await api(`/organizations/${orgA}/assets/uploads`, {
      token: a.token,
      body: { filename: 'x.exe', contentType: 'application/x-msdownload', size: 10 },
    });
    expect(bad.status).toBe(400);
    const big = await api(`/organizations/${orgA}/assets/uploads`, {
      token: a.token,
      body: { filename: 'x.bin', contentType: 'application/octet-stream', size: 22 * MB },
    });
    expect(big.status).toBe(400);
    const theirs = await api<UploadTicket>(`/organizations/${orgB}/assets/uploads`, {
      token: b.token,
      body: { filename: 'b.png', contentType: 'image/png', size: PNG.length },
    });
    for (const [method, suffix] of [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/complete'],
    ] as const) {
      for (const org of [orgA, orgB]) {
        const res = await api(`/organizations/${org}/assets/${theirs.body.assetId}${suffix}`, {
          method,
          token: a.token,
        });
        expect(res.status, `${method} via ${org === orgA ? 'own' : 'their'} organization`).toBe(404);
      }
    }
  });
});

/**
 * POSTs multipart/form-data with a `file` part of `size` bytes generated on the fly (chunked, with
 * backpressure): the client holds one 64 KB chunk at a time, so memory measured in this process is
 * the server's.
 */
function multipart(
  url: string,
  token: string | null,
  file: { filename: string; contentType: string; size: number },
  fields: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; sha256: string }> {
  const boundary = `----woopdi${Date.now()}`;
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) % 251;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        ...(token && { authorization: `Bearer ${token}` }),
      },
    });
    req.on('error', reject);
    req.on('response', async (res) => {
      let text = '';
      for await (const c of res) text += c;
      resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {}, sha256: hash.digest('hex') });
    });
    (async () => {
      const write = (data: Buffer | string) =>
        req.write(data) ? Promise.resolve() : new Promise<void>((r) => req.once('drain', () => r()));
      for (const [name, value] of Object.entries(fields)) {
        await write(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
      }
      await write(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`,
      );
      for (let sent = 0; sent < file.size; sent += chunk.length) {
        const part = chunk.subarray(0, Math.min(chunk.length, file.size - sent));
        hash.update(part);
        if (req.destroyed) return;
        await write(part);
      }
      await write(`\r\n--${boundary}--\r\n`);
      req.end();
    })().catch(reject);
  });
}

describe('multipart upload (POST /api/organizations/{organizationId}/assets/upload)', () => {
  const path = (organizationId: string) => `${server.url}/api/organizations/${organizationId}/assets/upload`;

  it('streams a 20 MB file to storage: RSS grows far less than the file', async () => {
    const owner = await signup();
    const organizationId = await teamOf(owner);
    // Warm-up: the code paths are compiled before measuring.
    await multipart(path(organizationId), owner.token, {
      filename: 'warm.bin',
      contentType: 'application/octet-stream',
      size: MB,
    });

    const size = 20 * MB;
    // Garbage (the socket's spent chunks) would count too until V8 collects it; a young-generation
    // collection every 20 ms leaves what the server keeps. Both figures are reported.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
    const measure = async (collect: boolean, filename: string) => {
      gc();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        if (collect) gc({ type: 'minor' });
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      const res = await multipart(path(organizationId), owner.token, {
        filename,
        contentType: 'application/octet-stream',
        size,
      });
      clearInterval(sampler);
      return { res, growth: Math.max(peak, process.memoryUsage().rss) - before };
    };
    // Collected first: the second run reuses memory the first one grew (malloc keeps freed pages).
    const { res, growth } = await measure(true, 'big.bin');
    const plain = await measure(false, 'plain.bin');
    const pct = (n: number) => `${((n / size) * 100).toFixed(0)}%`;
    console.log(
      `multipart upload of ${size / MB} MB: peak RSS growth ${(growth / MB).toFixed(1)} MB (${pct(growth)} of the file) with garbage collected as it goes; ${(plain.growth / MB).toFixed(1)} MB (${pct(plain.growth)}) counting uncollected garbage`,
    );
    expect(plain.res.status).toBe(201);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      status: 'ready',
      size,
      checksum: res.sha256,
      filename: 'big.bin',
      source: 'upload',
    });
    expect(growth).toBeLessThan(size / 2);

    // What was stored is what was sent.
    const download = await fetch(res.body.downloadUrl as string);
    const hash = createHash('sha256');
    for await (const c of download.body as unknown as AsyncIterable<Uint8Array>) hash.update(c);
    expect(hash.digest('hex')).toBe(res.sha256);
  });

  it('refuses without a token (401), for a non-member (403), a bad type (400), no file (400), too large (413)', async () => {
    const owner = await signup();
    const outsider = await signup();
    const organizationId = await teamOf(owner);
    const small = { filename: 'a.png', contentType: 'image/png', size: 1000 };
    expect((await multipart(path(organizationId), null, small)).status).toBe(401);
    expect((await multipart(path(organizationId), outsider.token, small)).status).toBe(403);
    const badType = await multipart(path(organizationId), owner.token, {
      ...small,
      contentType: 'application/x-msdownload',
    });
    expect(badType.status).toBe(400);
    expect(String(badType.body.message)).toContain('not accepted');
    // Claims PNG, but the bytes are not one.
    const disguised = await multipart(path(organizationId), owner.token, small);
    expect(disguised.status).toBe(400);
    expect(disguised.body.code).toBe('BAD_REQUEST');
    const noFile = await call(path(organizationId), {
      token: owner.token,
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--x--\r\n',
    });
    expect(noFile.status).toBe(400);
    const tooLarge = await multipart(path(organizationId), owner.token, {
      filename: 'huge.bin',
      contentType: 'application/octet-stream',
      size: 22 * MB,
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe('PAYLOAD_TOO_LARGE');
    // Nothing was kept of any refused upload.
    expect(await server.deps.sql`select id from assets where organization_id = ${organizationId}`).toEqual(
      [],
    );
    expect(await storage.deletePrefix(`orgs/${organizationId}/`)).toBe(0);
  });

  it('refuses with 412 when the organization is at its storage quota; role=logo marks the logo', async () => {
    const owner = await signup();
    const organizationId = await teamOf(owner);
    const logo = await multipart(
      path(organizationId),
      owner.token,
      { filename: 'logo.bin', contentType: 'application/octet-stream', size: 500 },
      { role: 'logo' },
    );
    expect(logo.status).toBe(201);
    expect(logo.body.meta).toEqual({ role: 'logo' });
    // A member fills the quota (100 MB on the free plan) with a reserved upload.
    await server.deps.db.insert(assets).values({
      organizationId,
      storageKey: `orgs/${organizationId}/filler`,
      filename: 'filler.bin',
      contentType: 'application/octet-stream',
      size: 100 * MB,
    });
    const full = await multipart(path(organizationId), owner.token, {
      filename: 'one-more.bin',
      contentType: 'application/octet-stream',
      size: 1000,
    });
    expect(full.status).toBe(412);
    expect(String(full.body.message)).toContain('quota');
    // A member (not only an admin) may upload.
    const member = await signup();
    await server.deps.db
      .insert(memberships)
      .values({ organizationId, userId: member.userId, role: 'MEMBER' });
    expect(
      (
        await multipart(path(organizationId), member.token, {
          filename: 'm.bin',
          contentType: 'application/octet-stream',
          size: 10,
        })
      ).status,
    ).toBe(412);
  });
});
