// Organization API keys through the real router: shown once and stored as a keyed hash, acting for
// their organization only with their role, refused by user-only procedures, audited with the key as
// the actor, rate limited per key, and refused the moment they are revoked or expire.
import { apiKeys, auditLog, users } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthCache } from '../src/auth-cache.js';
import type { Context } from '../src/context.js';
import { appRouter } from '../src/root.js';
import { createApiKey } from '../src/services/api-keys.js';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { createCallerFactory } from '../src/trpc.js';
import { addMember, codeOf, insertApiKey, signUp } from './fixtures.js';

let deps: TestDeps;
let owner: Awaited<ReturnType<typeof signUp>>;
let organizationId: string;
let otherOrganizationId: string;
let otherTaskId: string;

/** The error a call rejects with: its code and message. */
async function refusal(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { code: err.code, message: err.message ?? '' };
  }
  return { code: 'OK', message: '' };
}

beforeAll(async () => {
  deps = await createTestDeps({ RATE_LIMIT_API_KEY: '10000/60' });
  owner = await signUp(deps);
  organizationId = (await owner.api.organizations.create({ name: 'Keyholders' })).id;
  const stranger = await signUp(deps);
  otherOrganizationId = (await stranger.api.organizations.create({ name: 'Elsewhere Inc' })).id;
  otherTaskId = (
    await stranger.api.tasks.start({
      organizationId: otherOrganizationId,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 0 },
    })
  ).taskId;
});
afterAll(() => deps.close());

describe('creating and listing keys', () => {
  it('answers the key once as wpd_<id>_<secret>, stores only a hash, and lists it without the secret', async () => {
    const created = await owner.api.apiKeys.create({ organizationId, name: 'CI deploys', role: 'MEMBER' });
    expect(created.key).toMatch(/^wpd_[0-9a-f]{16}_[0-9a-f]{64}$/);
    expect(created.key.startsWith(`${created.apiKey.prefix}_`)).toBe(true);
    const secret = created.key.split('_')[2]!;
    const [row] = await deps.db.select().from(apiKeys).where(eq(apiKeys.id, created.apiKey.id));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row!.secretHash).toMatch(/^[0-9a-f]{64}$/);

    const listed = await owner.api.apiKeys.list({ organizationId });
    const entry = listed.apiKeys.find((k) => k.id === created.apiKey.id)!;
    expect(entry).toMatchObject({
      name: 'CI deploys',
      role: 'MEMBER',
      status: 'active',
      prefix: created.apiKey.prefix,
      createdBy: { userId: owner.user.id, email: owner.email },
      lastUsedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it("a key's role is at most its creator's: a MODERATOR cannot create an ADMIN key", async () => {
    const moderator = await addMember(deps, organizationId, 'MODERATOR');
    // Through the router the procedure itself is ADMIN-only…
    expect(
      await codeOf(moderator.api.apiKeys.create({ organizationId, name: 'escalate', role: 'ADMIN' })),
    ).toBe('FORBIDDEN');
    // …and the ceiling holds in the service for any creator below ADMIN.
    const asModerator = {
      membershipId: 'm',
      organizationId,
      userId: moderator.user.id,
      role: 'MODERATOR' as const,
      isOwner: false,
      isSolo: false,
    };
    const ceiling = await refusal(createApiKey(deps, asModerator, { name: 'escalate', role: 'ADMIN' }));
    expect(ceiling.code).toBe('FORBIDDEN');
    expect(ceiling.message).toContain('at most yours (MODERATOR)');
    const ok = await createApiKey(deps, asModerator, { name: 'fine', role: 'MODERATOR' });
    expect(ok.apiKey.role).toBe('MODERATOR');
  });

  it('refuses an expiry in the past', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const r = await refusal(
      owner.api.apiKeys.create({ organizationId, name: 'old', role: 'MEMBER', expiresAt: past }),
    );
    expect(r.code).toBe('BAD_REQUEST');
    expect(r.message).toContain('expiresAt');
  });
});

describe('calling with a key', () => {
  it('acts in its organization with its role', async () => {
    const { key } = await owner.api.apiKeys.create({ organizationId, name: 'reader', role: 'MEMBER' });
    const api = callerFor(deps, key);
    expect((await api.organizations.get({ organizationId })).id).toBe(organizationId);
    const started = await api.tasks.start({
      organizationId,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 0 },
    });
    expect((await api.tasks.get({ taskId: started.taskId })).id).toBe(started.taskId);
    const denied = await refusal(api.members.list({ organizationId }));
    expect(denied.code).toBe('FORBIDDEN');
    expect(denied.message).toContain("this API key's is MEMBER");
  });

  it("answers another organization's procedures as for a non-member", async () => {
    const { key } = await owner.api.apiKeys.create({ organizationId, name: 'admin key', role: 'ADMIN' });
    const api = callerFor(deps, key);
    const org = await refusal(api.organizations.get({ organizationId: otherOrganizationId }));
    expect(org).toEqual({ code: 'FORBIDDEN', message: 'You are not a member of this organization.' });
    expect(await codeOf(api.tasks.get({ taskId: otherTaskId }))).toBe('NOT_FOUND');
    expect(await codeOf(api.apiKeys.list({ organizationId: otherOrganizationId }))).toBe('FORBIDDEN');
  });

  it('is refused by user-only procedures with a message saying keys act for an organization', async () => {
    const { key } = await owner.api.apiKeys.create({ organizationId, name: 'admin key', role: 'ADMIN' });
    const api = callerFor(deps, key);
    const calls = {
      'users.me': () => api.users.me(),
      'users.memberships': () => api.users.memberships(),
      'users.setActiveOrganization': () => api.users.setActiveOrganization({ organizationId }),
      'auth.logout': () => api.auth.logout({ everywhere: true }),
      'organizations.create': () => api.organizations.create({ name: 'Made by a key' }),
      'organizations.leave': () => api.organizations.leave({ organizationId }),
      'admin.users.list': () => api.admin.users.list({}),
    };
    for (const [path, call] of Object.entries(calls)) {
      const r = await refusal(call());
      expect(r.code, path).toBe('FORBIDDEN');
      expect(r.message, path).toContain('API keys act for an organization');
    }
  });

  it('a malformed, unknown or wrong-secret key is UNAUTHORIZED, with one message', async () => {
    const { key } = await owner.api.apiKeys.create({ organizationId, name: 'k', role: 'MEMBER' });
    const wrongSecret =
      `${key.slice(0, -4)}0000` === key ? `${key.slice(0, -4)}1111` : `${key.slice(0, -4)}0000`;
    const unknown = `wpd_${'0'.repeat(16)}_${'a'.repeat(64)}`;
    const messages = new Set<string>();
    for (const bad of ['wpd_nope', unknown, wrongSecret]) {
      const r = await refusal(callerFor(deps, bad).organizations.get({ organizationId }));
      expect(r.code, bad.slice(0, 12)).toBe('UNAUTHORIZED');
      messages.add(r.message);
    }
    expect(messages.size).toBe(1);
  });
});

describe('audit', () => {
  it('names the key as the actor of its creation, first use, its changes and its revocation', async () => {
    const created = await owner.api.apiKeys.create({ organizationId, name: 'auditor', role: 'ADMIN' });
    const id = created.apiKey.id;
    const api = callerFor(deps, created.key);
    await api.organizations.update({ organizationId, name: 'Renamed by a key' });
    await api.organizations.get({ organizationId });
    await owner.api.apiKeys.revoke({ organizationId, apiKeyId: id });
    const rows = await deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.organizationId, organizationId), eq(auditLog.actorApiKeyId, id)));
    const byAction = Object.fromEntries(rows.map((r) => [r.action, r]));
    expect(Object.keys(byAction).sort()).toEqual([
      'api_key.created',
      'api_key.first_used',
      'api_key.revoked',
      'organization.renamed',
    ]);
    // What the key did is the key's, not its creator's; creating and revoking record the person too.
    expect(byAction['organization.renamed']!.actorUserId).toBeNull();
    expect(byAction['api_key.first_used']!.actorUserId).toBeNull();
    expect(byAction['api_key.created']!.actorUserId).toBe(owner.user.id);
    expect(byAction['api_key.revoked']!.actorUserId).toBe(owner.user.id);
    const listed = await owner.api.organizations.auditLog({ organizationId, action: 'organization.renamed' });
    expect(listed.entries[0]).toMatchObject({ actorApiKeyId: id, actorUserId: null });
    expect(JSON.stringify(rows)).not.toContain(created.key.split('_')[2]!);
  });

  it('last used is written on first use, then not again within the minute', async () => {
    const { id, key } = await insertApiKey(deps, organizationId, owner.user.id, 'MEMBER');
    const api = callerFor(deps, key);
    await api.organizations.get({ organizationId });
    const [first] = await deps.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    expect(first!.lastUsedAt).not.toBeNull();
    await api.organizations.get({ organizationId });
    await api.organizations.get({ organizationId });
    const [later] = await deps.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    expect(later!.lastUsedAt!.getTime()).toBe(first!.lastUsedAt!.getTime());
    const firstUses = await deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actorApiKeyId, id), eq(auditLog.action, 'api_key.first_used')));
    expect(firstUses).toHaveLength(1);
  });
});

describe('revocation and expiry', () => {
  it('a revoked key is refused at once by an instance that had it cached (bus invalidation)', async () => {
    const authCache = createAuthCache(deps.bus);
    await authCache.ready;
    const caller = createCallerFactory(appRouter);
    const withCache = (token: string) =>
      caller({
        ...deps,
        authCache,
        accessToken: token,
        requestId: 't',
        ip: null,
        userAgent: null,
      } as Context);
    try {
      const created = await owner.api.apiKeys.create({ organizationId, name: 'soon gone', role: 'MEMBER' });
      for (let i = 0; i < 3; i++) await withCache(created.key).organizations.get({ organizationId });
      await owner.api.apiKeys.revoke({ organizationId, apiKeyId: created.apiKey.id });
      const deadline = Date.now() + 1_000;
      let code = 'OK';
      while (code === 'OK' && Date.now() < deadline) {
        code = await codeOf(withCache(created.key).organizations.get({ organizationId }));
      }
      expect(code).toBe('UNAUTHORIZED');
      const r = await refusal(withCache(created.key).organizations.get({ organizationId }));
      expect(r.message).toContain('revoked');
      const listed = await owner.api.apiKeys.list({ organizationId });
      expect(listed.apiKeys.find((k) => k.id === created.apiKey.id)!.status).toBe('revoked');
      // Revoking again answers the same; another organization's key is not found.
      expect(await owner.api.apiKeys.revoke({ organizationId, apiKeyId: created.apiKey.id })).toEqual({
        revoked: true,
      });
    } finally {
      authCache.close();
    }
  });

  it('an expired key is UNAUTHORIZED, saying it expired', async () => {
    const { key } = await insertApiKey(deps, organizationId, owner.user.id, 'MEMBER', {
      expiresAt: new Date(Date.now() - 1_000),
    });
    const r = await refusal(callerFor(deps, key).organizations.get({ organizationId }));
    expect(r.code).toBe('UNAUTHORIZED');
    expect(r.message).toContain('expired');
  });

  it("revoking another organization's key is NOT_FOUND and leaves it working", async () => {
    const stranger = await deps.db.select({ id: users.id }).from(users).limit(1);
    const { id, key } = await insertApiKey(deps, otherOrganizationId, stranger[0]!.id, 'MEMBER');
    expect(await codeOf(owner.api.apiKeys.revoke({ organizationId, apiKeyId: id }))).toBe('NOT_FOUND');
    expect(
      await codeOf(callerFor(deps, key).organizations.get({ organizationId: otherOrganizationId })),
    ).not.toBe('UNAUTHORIZED');
  });
});

describe('rate limit per key', () => {
  it('answers TOO_MANY_REQUESTS with retryAfterSeconds past the configured limit, per key', async () => {
    const limited = await createTestDeps({ RATE_LIMIT_API_KEY: '3/60' });
    try {
      const person = await signUp(limited);
      const org = (await person.api.organizations.create({ name: 'Limited' })).id;
      const a = await insertApiKey(limited, org, person.user.id, 'MEMBER');
      const b = await insertApiKey(limited, org, person.user.id, 'MEMBER');
      for (let i = 0; i < 3; i++) await callerFor(limited, a.key).organizations.get({ organizationId: org });
      const over = await callerFor(limited, a.key)
        .organizations.get({ organizationId: org })
        .then(
          () => undefined,
          (e: { code?: string; message?: string; shape?: { data?: { retryAfterSeconds?: number } } }) => e,
        );
      expect(over?.code).toBe('TOO_MANY_REQUESTS');
      expect(over?.message).toContain('This API key has made too many requests');
      // Another key of the same organization has its own allowance.
      expect((await callerFor(limited, b.key).organizations.get({ organizationId: org })).id).toBe(org);
    } finally {
      await limited.close();
    }
  });
});
