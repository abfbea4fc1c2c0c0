// Files of an organization and its secrets: the rules, called through the real router. The HTTP side
// (signed URL routes, multipart) is in the server's files.test.ts.
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  createGcsStorage,
  type LocalStorage,
  loadConfig,
  open,
  readOrganizationSecret,
  type Storage,
} from '@woopdi/core';
import { assets, auditLog, memberships } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, TEST_ENV, type TestDeps } from '../src/testing.js';
import { type FakeGcs, startFakeGcs } from './fake-gcs.js';
import { addMember, codeOf, makePro, signUp } from './fixtures.js';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('not really the rest of a png, but the type check reads only the signature'),
]);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// A 1 MB quota on the free plan, so quota tests need only small files. A Stripe key, because
// without billing every organization is on the free plan (no call reaches Stripe here).
const ENV = {
  PLAN_FREE_STORAGE_MB: '1',
  PLAN_PRO_STORAGE_MB: '5',
  STRIPE_SECRET_KEY: 'sk_test_woopdi_files',
};
let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps(ENV);
});
afterAll(() => deps.close());

async function team(d: TestDeps = deps, name = 'Files Co') {
  const owner = await signUp(d);
  const org = await owner.api.organizations.create({ name });
  return { owner, org };
}

/** What the client does with the signed URL, done straight on the storage (the route is tested in the server). */
const putObject = (d: TestDeps, assetId: string, body: Buffer, contentType = 'image/png') =>
  d.db
    .select({ key: assets.storageKey })
    .from(assets)
    .where(eq(assets.id, assetId))
    .then(([row]) => d.storage.write(row!.key, body, { contentType }));

describe('uploads through signed URLs (local driver)', () => {
  it('a member reserves an upload, the server verifies the stored file, and hands out a download URL', async () => {
    const { org } = await team();
    const uploader = await addMember(deps, org.id, 'MEMBER');
    const upload = await uploader.api.assets.createUpload({
      organizationId: org.id,
      filename: 'Logo final (2).PNG',
      contentType: 'Image/PNG',
      size: PNG.length,
    });
    expect(upload.method).toBe('PUT');
    expect(upload.headers).toEqual({ 'content-type': 'image/png' });
    const url = new URL(upload.uploadUrl);
    expect(url.pathname).toBe(`/storage/orgs/${org.id}/${upload.assetId}/Logo_final_2_.PNG`);
    expect(Number(url.searchParams.get('expires')) * 1000).toBe(new Date(upload.expiresAt).getTime());
    const local = deps.storage as LocalStorage;
    expect(local.verify('PUT', url.pathname.slice('/storage/'.length), url.searchParams)).toMatchObject({
      ok: true,
    });

    const pending = await uploader.api.assets.get({ organizationId: org.id, assetId: upload.assetId });
    expect(pending).toMatchObject({ status: 'pending', downloadUrl: null, checksum: null });

    await putObject(deps, upload.assetId, PNG);
    const ready = await uploader.api.assets.completeUpload({
      organizationId: org.id,
      assetId: upload.assetId,
    });
    expect(ready).toMatchObject({
      status: 'ready',
      size: PNG.length,
      contentType: 'image/png',
      filename: 'Logo final (2).PNG',
      checksum: sha256(PNG),
      uploadedBy: uploader.user.id,
      source: 'upload',
    });
    // Completing again changes nothing.
    expect(
      await uploader.api.assets.completeUpload({ organizationId: org.id, assetId: upload.assetId }),
    ).toEqual(ready);

    const got = await uploader.api.assets.get({ organizationId: org.id, assetId: upload.assetId });
    const download = new URL(got.downloadUrl!);
    expect(download.searchParams.get('dl')).toBe('Logo final (2).PNG');
    expect(
      local.verify('GET', download.pathname.slice('/storage/'.length), download.searchParams),
    ).toMatchObject({
      ok: true,
    });
    expect(new Date(got.downloadUrlExpiresAt!).getTime()).toBeGreaterThan(Date.now());
  });

  it('refuses a content type outside the allow-list, an oversized or empty file with 400, and reserves nothing', async () => {
    const { owner, org } = await team();
    const start = (contentType: string, size: number) =>
      owner.api.assets.createUpload({ organizationId: org.id, filename: 'f', contentType, size });
    await expect(start('application/x-msdownload', 10)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('not accepted'),
    });
    await expect(start('image/png', 50 * 1024 * 1024 + 1)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('the limit is 50 MB'),
    });
    expect(await codeOf(start('image/png', 0))).toBe('BAD_REQUEST');
    expect(await deps.db.select().from(assets).where(eq(assets.organizationId, org.id))).toEqual([]);
  });

  it("refuses an upload past the plan's storage quota with 412; pending uploads count; Pro allows more", async () => {
    const { owner, org } = await team();
    const start = (size: number) =>
      owner.api.assets.createUpload({
        organizationId: org.id,
        filename: 'a.bin',
        contentType: 'application/octet-stream',
        size,
      });
    await start(600 * 1024); // pending, never completed: still reserved
    await expect(start(600 * 1024)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringMatching(/quota.*Free plan/),
    });
    const { usage } = await owner.api.assets.list({ organizationId: org.id });
    expect(usage).toEqual({ usedBytes: 600 * 1024, quotaBytes: 1024 * 1024 });

    await makePro(deps, org.id);
    await start(600 * 1024);
    expect((await owner.api.assets.list({ organizationId: org.id })).usage.quotaBytes).toBe(5 * 1024 * 1024);
  });

  it('completeUpload answers 400 for a missing, oversized, undersized or mistyped file', async () => {
    const { owner, org } = await team();
    const start = () =>
      owner.api.assets.createUpload({
        organizationId: org.id,
        filename: 'p.png',
        contentType: 'image/png',
        size: PNG.length,
      });
    const complete = (assetId: string) =>
      owner.api.assets.completeUpload({ organizationId: org.id, assetId });

    const missing = await start();
    await expect(complete(missing.assetId)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('No file has been uploaded'),
    });

    const oversized = await start();
    await putObject(deps, oversized.assetId, Buffer.concat([PNG, Buffer.from('extra bytes')]));
    await expect(complete(oversized.assetId)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('more than the'),
    });
    const [row] = await deps.db.select().from(assets).where(eq(assets.id, oversized.assetId));
    expect(await deps.storage.stat(row!.storageKey)).toBeUndefined(); // removed at once
    expect(row!.status).toBe('pending');

    const short = await start();
    await putObject(deps, short.assetId, PNG.subarray(0, 20));
    expect(await codeOf(complete(short.assetId))).toBe('BAD_REQUEST');

    const otherType = await start();
    await putObject(deps, otherType.assetId, PNG, 'application/octet-stream');
    await expect(complete(otherType.assetId)).rejects.toMatchObject({
      message: expect.stringContaining('stored as'),
    });

    const disguised = await start();
    await putObject(deps, disguised.assetId, Buffer.alloc(PNG.length, 0x4d)); // "MMMM…", no PNG signature
    await expect(complete(disguised.assetId)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('not a image/png file'),
    });
    // The client fixes it and completes.
    await putObject(deps, disguised.assetId, PNG);
    expect((await complete(disguised.assetId)).status).toBe('ready');
  });

  it("another organization's asset ids are 404 on get, complete and delete — also for a member of both", async () => {
    const a = await team(deps, 'Alpha');
    const b = await team(deps, 'Bravo');
    const bFile = await b.owner.api.assets.createUpload({
      organizationId: b.org.id,
      filename: 'secret.png',
      contentType: 'image/png',
      size: PNG.length,
    });
    await putObject(deps, bFile.assetId, PNG);
    const both = await addMember(deps, a.org.id, 'ADMIN');
    await deps.db
      .insert(memberships)
      .values({ organizationId: b.org.id, userId: both.user.id, role: 'MEMBER' });

    for (const caller of [a.owner, both]) {
      for (const call of ['get', 'completeUpload', 'delete'] as const) {
        // B's asset named under A's organization (where the caller may be ADMIN).
        expect(
          await codeOf(caller.api.assets[call]({ organizationId: a.org.id, assetId: bFile.assetId })),
          call,
        ).toBe('NOT_FOUND');
      }
    }
    for (const call of ['get', 'completeUpload', 'delete'] as const) {
      expect(
        await codeOf(a.owner.api.assets[call]({ organizationId: b.org.id, assetId: bFile.assetId })),
      ).toBe('NOT_FOUND');
    }
    const [row] = await deps.db.select().from(assets).where(eq(assets.id, bFile.assetId));
    expect(row!.status).toBe('pending');
    expect(await deps.storage.stat(row!.storageKey)).toMatchObject({ size: PNG.length });
  });

  it('the uploader or a MODERATOR+ deletes a file (object and row); another MEMBER cannot', async () => {
    const { org } = await team();
    const uploader = await addMember(deps, org.id, 'MEMBER');
    const other = await addMember(deps, org.id, 'MEMBER');
    const moderator = await addMember(deps, org.id, 'MODERATOR');
    const upload = async () => {
      const u = await uploader.api.assets.createUpload({
        organizationId: org.id,
        filename: 'x.png',
        contentType: 'image/png',
        size: PNG.length,
      });
      await putObject(deps, u.assetId, PNG);
      await uploader.api.assets.completeUpload({ organizationId: org.id, assetId: u.assetId });
      const [row] = await deps.db.select().from(assets).where(eq(assets.id, u.assetId));
      return row!;
    };
    const first = await upload();
    expect(await codeOf(other.api.assets.delete({ organizationId: org.id, assetId: first.id }))).toBe(
      'FORBIDDEN',
    );
    expect(await uploader.api.assets.delete({ organizationId: org.id, assetId: first.id })).toEqual({
      deleted: true,
    });
    expect(await deps.storage.stat(first.storageKey)).toBeUndefined();
    expect(await deps.db.select().from(assets).where(eq(assets.id, first.id))).toEqual([]);

    const second = await upload();
    await moderator.api.assets.delete({ organizationId: org.id, assetId: second.id });
    expect(await deps.storage.stat(second.storageKey)).toBeUndefined();
    const entries = await deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.organizationId, org.id), eq(auditLog.action, 'asset.deleted')));
    expect(entries.map((e) => [e.actorUserId, e.targetId])).toEqual(
      expect.arrayContaining([
        [uploader.user.id, first.id],
        [moderator.user.id, second.id],
      ]),
    );
  });

  it('lists newest first, filters by source and pages with a cursor', async () => {
    const { owner, org } = await team();
    for (const name of ['one', 'two', 'three']) {
      await owner.api.assets.createUpload({
        organizationId: org.id,
        filename: `${name}.png`,
        contentType: 'image/png',
        size: 10,
      });
    }
    await deps.storage.write(`orgs/${org.id}/export-probe`, Buffer.from('{}'), {
      contentType: 'application/json',
    });
    await deps.db.insert(assets).values({
      organizationId: org.id,
      storageKey: `orgs/${org.id}/export-probe`,
      filename: 'export.json',
      contentType: 'application/json',
      size: 2,
      source: 'export',
      status: 'ready',
    });
    const page1 = await owner.api.assets.list({ organizationId: org.id, source: 'upload', limit: 2 });
    expect(page1.assets.map((a) => a.filename)).toEqual(['three.png', 'two.png']);
    const page2 = await owner.api.assets.list({
      organizationId: org.id,
      source: 'upload',
      limit: 2,
      cursor: page1.nextCursor!,
    });
    expect(page2.assets.map((a) => a.filename)).toEqual(['one.png']);
    expect(page2.nextCursor).toBeNull();
    const exports = await owner.api.assets.list({ organizationId: org.id, source: 'export' });
    expect(exports.assets.map((a) => a.filename)).toEqual(['export.json']);
  });
});

describe('gcs driver (the real SDK against a local stand-in for GCS)', () => {
  const BUCKET = 'woopdi-test-bucket';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const credentials = {
    client_email: 'woopdi-test@woopdi-test.iam.gserviceaccount.com',
    private_key: privateKey,
  };
  let fake: FakeGcs;
  let gcsDeps: TestDeps;
  let storage: Storage;
  beforeAll(async () => {
    fake = await startFakeGcs(BUCKET);
    storage = createGcsStorage({
      bucket: BUCKET,
      credentials,
      projectId: 'woopdi-test',
      apiEndpoint: fake.url,
    });
    gcsDeps = await createTestDeps(ENV, { storage });
  });
  afterAll(async () => {
    await gcsDeps.close();
    await fake.close();
  });

  it('uploads through a signed PUT, completes, downloads through a signed GET, and deletes', async () => {
    const { owner, org } = await team(gcsDeps);
    const upload = await owner.api.assets.createUpload({
      organizationId: org.id,
      filename: 'photo.png',
      contentType: 'image/png',
      size: PNG.length,
    });
    const key = `orgs/${org.id}/${upload.assetId}/photo.png`;
    expect(upload.headers).toEqual({
      'content-type': 'image/png',
      'x-goog-content-length-range': `0,${PNG.length}`,
      'x-goog-if-generation-match': '0',
    });
    const put = await fetch(upload.uploadUrl, { method: upload.method, headers: upload.headers, body: PNG });
    expect(put.status).toBe(200);
    expect(fake.objects.get(key)?.body.equals(PNG)).toBe(true);

    const ready = await owner.api.assets.completeUpload({ organizationId: org.id, assetId: upload.assetId });
    expect(ready).toMatchObject({ status: 'ready', checksum: sha256(PNG) });
    // The URL wrote once: other bytes PUT with the headers it was signed with are refused (412).
    const other = Buffer.from(PNG);
    other[20] = 2;
    const again = await fetch(upload.uploadUrl, { method: 'PUT', headers: upload.headers, body: other });
    expect(again.status).toBe(412);
    expect(fake.objects.get(key)?.body.equals(PNG)).toBe(true);
    // The SDK read the metadata, then the bytes.
    const reads = fake.requests.filter(
      (r) => r.path === `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(key)}`,
    );
    expect(reads.map((r) => r.query.get('alt'))).toEqual([null, 'media']);

    const { downloadUrl } = await owner.api.assets.get({ organizationId: org.id, assetId: upload.assetId });
    const res = await fetch(downloadUrl!);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
    expect(res.headers.get('content-disposition')).toContain('filename="photo.png"');

    await owner.api.assets.delete({ organizationId: org.id, assetId: upload.assetId });
    expect(fake.objects.has(key)).toBe(false);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'DELETE' });
  });

  it('writes through the SDK upload (with the md5 check), reads back, and deletes by prefix', async () => {
    const body = Buffer.alloc(300_000, 7);
    const written = await storage.write(
      'orgs/prefix-test/a/one.bin',
      Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
      {
        contentType: 'application/octet-stream',
      },
    );
    expect(written).toEqual({ size: body.length, sha256: sha256(body) });
    expect(
      fake.requests.some((r) => r.method === 'POST' && r.path === `/upload/storage/v1/b/${BUCKET}/o`),
    ).toBe(true);
    await storage.write('orgs/prefix-test/b/two.bin', Buffer.from('two'), { contentType: 'text/plain' });
    expect(await storage.stat('orgs/prefix-test/b/two.bin')).toEqual({ size: 3, contentType: 'text/plain' });
    const chunks: Buffer[] = [];
    for await (const c of await storage.read('orgs/prefix-test/a/one.bin')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    await expect(
      storage.write('orgs/prefix-test/c/big.bin', Buffer.alloc(2000), {
        contentType: 'text/plain',
        maxBytes: 1000,
      }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await storage.stat('orgs/prefix-test/c/big.bin')).toBeUndefined();
    // Create-only writes: the second is refused and leaves the first object as it was.
    await storage.write('orgs/prefix-test/b/once.txt', Buffer.from('one'), {
      contentType: 'text/plain',
      ifAbsent: true,
    });
    await expect(
      storage.write('orgs/prefix-test/b/once.txt', Buffer.from('two'), {
        contentType: 'text/plain',
        ifAbsent: true,
      }),
    ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(fake.objects.get('orgs/prefix-test/b/once.txt')?.body.toString()).toBe('one');
    expect(await storage.deletePrefix('orgs/prefix-test/')).toBe(3);
    expect([...fake.objects.keys()].filter((k) => k.startsWith('orgs/prefix-test/'))).toEqual([]);
  });

  it('a V4 signed URL from a service-account key has the expected host, path, expiry and a valid signature', async () => {
    const real = createGcsStorage({ bucket: BUCKET, credentials, projectId: 'woopdi-test' });
    const key = 'orgs/00000000-0000-4000-8000-000000000001/11111111-1111-4111-8111-111111111111/photo.png';
    const signed = await real.signedUploadUrl(key, {
      contentType: 'image/png',
      maxBytes: 1234,
      expiresInSeconds: 900,
    });
    const url = new URL(signed.url);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('storage.googleapis.com');
    expect(url.pathname).toBe(`/${BUCKET}/${key}`);
    const q = url.searchParams;
    expect(q.get('X-Goog-Algorithm')).toBe('GOOG4-RSA-SHA256');
    expect(q.get('X-Goog-Expires')).toBe('900');
    const date = q.get('X-Goog-Date')!;
    expect(date).toMatch(/^\d{8}T\d{6}Z$/);
    expect(q.get('X-Goog-Credential')).toBe(
      `${credentials.client_email}/${date.slice(0, 8)}/auto/storage/goog4_request`,
    );
    expect(q.get('X-Goog-SignedHeaders')).toBe(
      'content-type;host;x-goog-content-length-range;x-goog-if-generation-match',
    );
    const signature = q.get('X-Goog-Signature')!;
    expect(signature).toMatch(/^[0-9a-f]{512}$/); // RSA-2048
    expect(signed.expiresAt.getTime() - Date.now()).toBeGreaterThan(890_000);

    // Recompute the V4 string-to-sign and check the signature with the public key.
    const query = [...q]
      .filter(([k]) => k !== 'X-Goog-Signature')
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
    const canonicalRequest = [
      'PUT',
      url.pathname,
      query,
      'content-type:image/png\nhost:storage.googleapis.com\nx-goog-content-length-range:0,1234\nx-goog-if-generation-match:0\n',
      'content-type;host;x-goog-content-length-range;x-goog-if-generation-match',
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const stringToSign = [
      'GOOG4-RSA-SHA256',
      date,
      `${date.slice(0, 8)}/auto/storage/goog4_request`,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    expect(verify('RSA-SHA256', Buffer.from(stringToSign), publicKey, Buffer.from(signature, 'hex'))).toBe(
      true,
    );

    const download = new URL(
      (await real.signedDownloadUrl(key, { expiresInSeconds: 60, filename: 'photo.png' })).url,
    );
    expect(download.searchParams.get('X-Goog-Expires')).toBe('60');
    expect(download.searchParams.get('response-content-disposition')).toContain(
      'attachment; filename="photo.png"',
    );
  });
});

describe('organization secrets', () => {
  const TOKEN = 'r8_live_0123456789abcdefWXYZ';

  it('set → list shows only the last 4 characters; the row holds ciphertext; only ADMINs may', async () => {
    const { owner, org } = await team();
    const saved = await owner.api.organizations.secrets.set({
      organizationId: org.id,
      name: 'REPLICATE_API_TOKEN',
      value: TOKEN,
    });
    expect(saved).toMatchObject({ name: 'REPLICATE_API_TOKEN', last4: 'WXYZ' });
    const listed = await owner.api.organizations.secrets.list({ organizationId: org.id });
    expect(listed.secrets).toEqual([expect.objectContaining({ name: 'REPLICATE_API_TOKEN', last4: 'WXYZ' })]);
    expect(JSON.stringify(listed)).not.toContain(TOKEN.slice(0, -4));

    const [raw] = await deps.sql<{ sealed_value: string; key_id: string; last4: string }[]>`
      select sealed_value, key_id, last4 from organization_secrets where organization_id = ${org.id}`;
    expect(raw!.sealed_value).not.toContain(TOKEN);
    expect(raw!.sealed_value).not.toContain(Buffer.from(TOKEN).toString('base64url').slice(0, 12));
    const keyId = deps.config.encryptionKeys[0]!.id;
    expect(raw!.sealed_value.startsWith(`v1.${keyId}.`)).toBe(true);
    expect(raw!.key_id).toBe(keyId);
    expect(open(deps.config.encryptionKeys, raw!.sealed_value)).toBe(TOKEN);

    for (const role of ['MEMBER', 'MODERATOR'] as const) {
      const m = await addMember(deps, org.id, role);
      expect(await codeOf(m.api.organizations.secrets.list({ organizationId: org.id }))).toBe('FORBIDDEN');
      expect(
        await codeOf(
          m.api.organizations.secrets.set({
            organizationId: org.id,
            name: 'REPLICATE_API_TOKEN',
            value: 'x',
          }),
        ),
      ).toBe('FORBIDDEN');
    }
  });

  it('a value sealed under the old key opens with a rotated key list, and new values use the new key', async () => {
    const old = Buffer.alloc(32, 1).toString('base64');
    const next = Buffer.alloc(32, 2).toString('base64');
    const before = await createTestDeps({ ...ENV, ENCRYPTION_KEY: `k1:${old}` });
    try {
      const { owner, org } = await team(before);
      await owner.api.organizations.secrets.set({
        organizationId: org.id,
        name: 'REPLICATE_API_TOKEN',
        value: TOKEN,
      });
      // After rotation: ENCRYPTION_KEY lists the new key first, the old one after it.
      const rotated = loadConfig({ ...TEST_ENV, ENCRYPTION_KEY: `k2:${next},k1:${old}` });
      expect(
        await readOrganizationSecret(before.db, rotated.encryptionKeys, org.id, 'REPLICATE_API_TOKEN'),
      ).toBe(TOKEN);
      // Without the old key it cannot be opened.
      const dropped = loadConfig({ ...TEST_ENV, ENCRYPTION_KEY: `k2:${next}` });
      await expect(
        readOrganizationSecret(before.db, dropped.encryptionKeys, org.id, 'REPLICATE_API_TOKEN'),
      ).rejects.toThrow(/no encryption key with id "k1"/);
      const after = { ...before, config: rotated };
      await callerFor(after, owner.tokens.accessToken).organizations.secrets.set({
        organizationId: org.id,
        name: 'OTHER_TOKEN',
        value: 'another-value-123456',
      });
      const keyIds = await before.sql<{ name: string; key_id: string }[]>`
        select name, key_id from organization_secrets where organization_id = ${org.id} order by name`;
      expect(keyIds).toEqual([
        { name: 'OTHER_TOKEN', key_id: 'k2' },
        { name: 'REPLICATE_API_TOKEN', key_id: 'k1' },
      ]);
    } finally {
      await before.close();
    }
  });

  it('validates names, replaces on set, and deletes (404 when absent)', async () => {
    const { owner, org } = await team();
    expect(
      await codeOf(
        owner.api.organizations.secrets.set({ organizationId: org.id, name: 'lower_case', value: 'v' }),
      ),
    ).toBe('BAD_REQUEST');
    await owner.api.organizations.secrets.set({
      organizationId: org.id,
      name: 'A_TOKEN',
      value: 'first-value-aaaa',
    });
    await owner.api.organizations.secrets.set({
      organizationId: org.id,
      name: 'A_TOKEN',
      value: 'second-value-bbbb',
    });
    expect((await owner.api.organizations.secrets.list({ organizationId: org.id })).secrets).toEqual([
      expect.objectContaining({ name: 'A_TOKEN', last4: 'bbbb' }),
    ]);
    // Too short to show any of it.
    await owner.api.organizations.secrets.set({ organizationId: org.id, name: 'SHORT', value: 'abc123' });
    expect((await owner.api.organizations.secrets.list({ organizationId: org.id })).secrets[1]).toMatchObject(
      {
        name: 'SHORT',
        last4: '',
      },
    );
    expect(await owner.api.organizations.secrets.delete({ organizationId: org.id, name: 'A_TOKEN' })).toEqual(
      {
        deleted: true,
      },
    );
    expect(
      await codeOf(owner.api.organizations.secrets.delete({ organizationId: org.id, name: 'A_TOKEN' })),
    ).toBe('NOT_FOUND');
  });
});

describe('starting generate_image', () => {
  const start = (api: Awaited<ReturnType<typeof signUp>>['api'], organizationId: string) =>
    api.tasks.start({ organizationId, kind: 'generate_image', input: { prompt: 'a lighthouse at dawn' } });

  it('needs the Pro plan (412), then a Replicate token (412 with a clear message)', async () => {
    const { owner, org } = await team();
    await expect(start(owner.api, org.id)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('needs the Pro plan'),
    });
    await makePro(deps, org.id);
    await expect(start(owner.api, org.id)).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('REPLICATE_API_TOKEN'),
    });
    await owner.api.organizations.secrets.set({
      organizationId: org.id,
      name: 'REPLICATE_API_TOKEN',
      value: 'r8_org_token_0000',
    });
    expect(await start(owner.api, org.id)).toMatchObject({ status: 'queued' });
    expect(
      await codeOf(
        owner.api.tasks.start({ organizationId: org.id, kind: 'generate_image', input: { prompt: '' } }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it("the server's REPLICATE_API_TOKEN serves organizations without their own", async () => {
    const withToken = await createTestDeps({ ...ENV, REPLICATE_API_TOKEN: 'r8_server_token' });
    try {
      const { owner, org } = await team(withToken);
      await makePro(withToken, org.id);
      expect(await start(owner.api, org.id)).toMatchObject({ status: 'queued' });
    } finally {
      await withToken.close();
    }
  });
});
