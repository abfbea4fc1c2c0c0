// The cross-tenant matrix: every org-scoped procedure of the router (read from the router itself, so
// a new one cannot be forgotten) is called with another organization's ids — by an ADMIN (and owner)
// of a different organization, by a user who belongs to no team organization, and, where the
// procedure needs more than MEMBER, by a MEMBER of that organization. Every call is denied, the
// error says nothing about the other organization, and the other organization is left unchanged.
//
// Areas written by `pnpm new:area` add their entries, the rows of B they need and a snapshot of
// those rows through tenant-areas/ (the router still says which procedures must be covered).
//
// Subscriptions are not in the main matrix yet (users.events is user-scoped; org-scoped ones such as
// tasks.events need a streaming harness to check what they stream): only their gate is checked, at
// subscribe time, in the last test.
import { storeAsset, taskKindNames, taskKinds } from '@woopdi/core';
import { auditLog, invitations, memberships, organizations, userIdentities, users } from '@woopdi/db';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/root.js';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import type { Access } from '../src/trpc.js';
import { SAMPLE_TASK_INPUT, signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';
import { AREA_MATRICES, type AreaIds } from './tenant-areas/index.js';

/** Organization B, the one under attack: its ids and everything that must not leak. */
interface Victim {
  organizationId: string;
  invitationId: string;
  ownerId: string;
  adminId: string;
  memberId: string;
  /** A task of B (started in B by its owner). */
  taskId: string;
  /** A file of B (an upload started in B by its owner). */
  assetId: string;
  /** B's org_export file: members' emails, readable at the export's role only (not by B's MEMBER). */
  exportAssetId: string;
  /** An API key of B (api_keys.id). */
  apiKeyId: string;
  /** A webhook endpoint of B, and one of its deliveries. */
  webhookId: string;
  deliveryId: string;
  /** The rows of B that the generated areas seeded (tenant-areas/), by name: `{ projectId }`. */
  areaIds: Record<string, string>;
}
/** The attacker's own organization A, for inputs that mix A's organization with B's other ids. */
interface Attacker {
  organizationId: string;
  /** A file of A: sent with B's organization id, the path's organization must not be trusted. */
  assetId: string;
}

interface Entry {
  /** The input built from B's ids. Its gate key (`meta.access.via`) must hold a B id. */
  input: (b: Victim) => Record<string, unknown>;
  /** Optionally, A's organization with B's other ids (a member of B addressed through A). */
  mixed?: (b: Victim, a: Attacker) => Record<string, unknown>[];
}

/** B's asset under A's organization id, and A's own asset under B's organization id. */
function assetMixes(b: Victim, a: Attacker) {
  return [
    { organizationId: a.organizationId, assetId: b.assetId },
    { organizationId: b.organizationId, assetId: a.assetId },
  ];
}

/** Every org-scoped procedure must have an entry here; the test fails for one that has none. */
const MATRIX: Record<string, Entry> = {
  'organizations.get': { input: (b) => ({ organizationId: b.organizationId }) },
  'organizations.update': {
    // Renaming, and requiring two-factor of B's members (which would lock them out).
    input: (b) => ({ organizationId: b.organizationId, name: 'Taken over', requireTwoFactor: true }),
  },
  'organizations.delete': { input: (b) => ({ organizationId: b.organizationId }) },
  'organizations.transferOwnership': {
    input: (b) => ({ organizationId: b.organizationId, userId: b.adminId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, userId: b.adminId }],
  },
  'organizations.leave': { input: (b) => ({ organizationId: b.organizationId }) },
  'organizations.auditLog': { input: (b) => ({ organizationId: b.organizationId }) },
  'members.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'members.updateRole': {
    input: (b) => ({ organizationId: b.organizationId, userId: b.memberId, role: 'ADMIN' }),
    mixed: (b, a) => [{ organizationId: a.organizationId, userId: b.memberId, role: 'ADMIN' }],
  },
  'members.remove': {
    input: (b) => ({ organizationId: b.organizationId, userId: b.memberId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, userId: b.memberId }],
  },
  'invitations.create': {
    input: (b) => ({ organizationId: b.organizationId, email: 'planted@example.com', role: 'ADMIN' }),
  },
  'invitations.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'invitations.revoke': { input: (b) => ({ invitationId: b.invitationId }) },
  'invitations.resend': { input: (b) => ({ invitationId: b.invitationId }) },
  'users.setActiveOrganization': { input: (b) => ({ organizationId: b.organizationId }) },
  'tasks.start': {
    input: (b) => ({
      organizationId: b.organizationId,
      kind: 'example_streaming',
      input: { steps: 1, intervalMs: 10 },
    }),
  },
  'tasks.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'tasks.get': { input: (b) => ({ taskId: b.taskId }) },
  'tasks.cancel': { input: (b) => ({ taskId: b.taskId }) },
  'assets.createUpload': {
    input: (b) => ({
      organizationId: b.organizationId,
      filename: 'planted.png',
      contentType: 'image/png',
      size: 100,
    }),
  },
  'assets.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'assets.get': {
    input: (b) => ({ organizationId: b.organizationId, assetId: b.assetId }),
    mixed: assetMixes,
  },
  'assets.completeUpload': {
    input: (b) => ({ organizationId: b.organizationId, assetId: b.assetId }),
    mixed: assetMixes,
  },
  'assets.delete': {
    input: (b) => ({ organizationId: b.organizationId, assetId: b.assetId }),
    mixed: assetMixes,
  },
  'organizations.secrets.set': {
    input: (b) => ({
      organizationId: b.organizationId,
      name: 'REPLICATE_API_TOKEN',
      value: 'planted-by-attacker-0000',
    }),
  },
  'organizations.secrets.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'organizations.secrets.delete': {
    input: (b) => ({ organizationId: b.organizationId, name: 'REPLICATE_API_TOKEN' }),
  },
  'billing.get': { input: (b) => ({ organizationId: b.organizationId }) },
  'billing.checkout': { input: (b) => ({ organizationId: b.organizationId, plan: 'pro', seats: 5 }) },
  'billing.portal': { input: (b) => ({ organizationId: b.organizationId }) },
  'billing.updateSeats': { input: (b) => ({ organizationId: b.organizationId, seats: 50 }) },
  'apiKeys.create': { input: (b) => ({ organizationId: b.organizationId, name: 'planted', role: 'ADMIN' }) },
  'apiKeys.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'webhooks.create': {
    input: (b) => ({ organizationId: b.organizationId, url: 'https://attacker.example/collect' }),
  },
  'webhooks.list': { input: (b) => ({ organizationId: b.organizationId }) },
  'webhooks.update': {
    input: (b) => ({
      organizationId: b.organizationId,
      webhookId: b.webhookId,
      url: 'https://attacker.example/x',
    }),
    mixed: (b, a) => [{ organizationId: a.organizationId, webhookId: b.webhookId, enabled: false }],
  },
  'webhooks.delete': {
    input: (b) => ({ organizationId: b.organizationId, webhookId: b.webhookId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, webhookId: b.webhookId }],
  },
  'webhooks.rotateSecret': {
    input: (b) => ({ organizationId: b.organizationId, webhookId: b.webhookId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, webhookId: b.webhookId }],
  },
  'webhooks.test': {
    input: (b) => ({ organizationId: b.organizationId, webhookId: b.webhookId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, webhookId: b.webhookId }],
  },
  'webhooks.deliveries': {
    input: (b) => ({ organizationId: b.organizationId, webhookId: b.webhookId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, webhookId: b.webhookId }],
  },
  'webhooks.redeliver': {
    input: (b) => ({ organizationId: b.organizationId, webhookId: b.webhookId, deliveryId: b.deliveryId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, webhookId: b.webhookId, deliveryId: b.deliveryId }],
  },
  'apiKeys.revoke': {
    input: (b) => ({ organizationId: b.organizationId, apiKeyId: b.apiKeyId }),
    mixed: (b, a) => [{ organizationId: a.organizationId, apiKeyId: b.apiKeyId }],
  },
};

const areaIdsOf = (b: Victim): AreaIds => ({ ...b.areaIds, organizationId: b.organizationId });
for (const area of Object.values(AREA_MATRICES)) {
  for (const [path, entry] of Object.entries(area.entries)) {
    const { mixed } = entry;
    MATRIX[path] = {
      input: (b) => entry.input(areaIdsOf(b)),
      ...(mixed ? { mixed: (b: Victim, a: Attacker) => mixed(areaIdsOf(b), a) } : {}),
    };
  }
}

type AnyProcedure = {
  _def: {
    type: 'query' | 'mutation' | 'subscription';
    meta?: { access?: Access };
    inputs: { parse(input: unknown): unknown }[];
  };
};
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>);
const orgScoped = procedures
  .filter(([, p]) => p._def.type !== 'subscription' && p._def.meta?.access?.scope === 'org')
  .map(([path, p]) => ({ path, access: p._def.meta!.access as Extract<Access, { scope: 'org' }> }));
/** Org-scoped subscriptions: only the refusal at subscribe time is checked (see the header). */
const SUBSCRIPTIONS: Record<string, (b: Victim) => Record<string, unknown>> = {
  'tasks.events': (b) => ({ taskId: b.taskId }),
};
const orgSubscriptions = procedures
  .filter(([, p]) => p._def.type === 'subscription' && p._def.meta?.access?.scope === 'org')
  .map(([path]) => path);
/** The ones with an entry (a missing entry fails the coverage test, not every test below). */
const covered = orgScoped.filter((p) => MATRIX[p.path]);
const excludedSubscriptions = procedures
  .filter(([, p]) => p._def.type === 'subscription')
  .map(([path]) => path);

/** Calls a procedure by its dotted path through the real router, as the holder of `token`. */
async function callPath(deps: TestDeps, token: string | null, path: string, input: unknown) {
  let target: unknown = callerFor(deps, token);
  for (const part of path.split('.')) target = (target as Record<string, unknown>)[part];
  try {
    await (target as (input: unknown) => Promise<unknown>)(input);
    return { code: 'OK', message: '' };
  } catch (e) {
    const err = e as { code?: string; message?: string; cause?: { message?: string } };
    return { code: err.code ?? 'UNKNOWN', message: `${err.message ?? ''} ${err.cause?.message ?? ''}` };
  }
}

/** Seat limits of the plans are the billing tests' business: here they never get in the way. */
const NO_SEAT_LIMIT = { PLAN_FREE_SEATS: '10000' };
/** Every task kind's entitlement and token are in place: a refusal below is about tenancy or role. */
const KINDS_ENTITLED = {
  PLAN_FREE_FEATURES: 'ai_generation',
  REPLICATE_API_TOKEN: 'r8_tenancy_server_token',
};
let deps: TestDeps;
let victim: Victim;
let attackerOrg: Attacker;
/** What B is called and who is in it: none of it may appear in an answer to an outsider. */
let secrets: { name: string; slug: string; emails: string[]; ids: string[] };
const SECRET_OF_B = 'r8_bravo-only-secret-value-9f3c';
const tokens = {
  attacker: '',
  loner: '',
  memberOfB: '',
  /** An ADMIN API key of the attacker's organization A. */
  attackerKey: '',
  /** A MEMBER API key of B itself. */
  memberKeyOfB: '',
  /** Support sessions (admin.impersonate, allowWrite) of a superadmin acting as the attacker / B's MEMBER. */
  supportAsAttacker: '',
  supportAsMemberOfB: '',
};

/** B's rows that a denied call must leave exactly as they were. */
async function snapshotOfB() {
  const id = victim.organizationId;
  return {
    org: await deps.db.select().from(organizations).where(eq(organizations.id, id)),
    members: await deps.db
      .select({ userId: memberships.userId, role: memberships.role })
      .from(memberships)
      .where(eq(memberships.organizationId, id))
      .orderBy(asc(memberships.userId)),
    invitations: await deps.db.select().from(invitations).where(eq(invitations.organizationId, id)),
    audit: (await deps.db.select({ id: auditLog.id }).from(auditLog).where(eq(auditLog.organizationId, id)))
      .length,
    tasks: await deps.sql`select id, status, created_by from tasks where organization_id = ${id} order by id`,
    assets: await deps.sql`select id, status, filename from assets where organization_id = ${id} order by id`,
    plan: await deps.sql`select plan, stripe_customer_id, require_two_factor from organizations where id = ${id}`,
    secrets:
      await deps.sql`select name, sealed_value, updated_at from organization_secrets where organization_id = ${id}`,
    webhooks:
      await deps.sql`select id, url, enabled, sealed_secret, sealed_previous_secret from webhook_endpoints where organization_id = ${id} order by id`,
    deliveries:
      await deps.sql`select id, status from webhook_deliveries where organization_id = ${id} order by id`,
    apiKeys:
      await deps.sql`select id, revoked_at, last_used_at from api_keys where organization_id = ${id} and name <> 'B member key' order by id`,
    areas: await Promise.all(Object.values(AREA_MATRICES).map((area) => area.snapshot(deps, id))),
    activeOrgOfOutsiders: await deps.db
      .select({ id: users.id, last: users.lastActiveOrganizationId })
      .from(users)
      .where(eq(users.lastActiveOrganizationId, id)),
  };
}

beforeAll(async () => {
  deps = await createTestDeps({ ...NO_SEAT_LIMIT, ...KINDS_ENTITLED });
  // B's webhook host: resolved by the SSRF check at creation, never contacted (no worker here).
  deps.webhookResolver = async () => [{ address: '93.184.215.14', family: 4 }];
  const [ownerB, adminB, memberB, attacker, loner] = await Promise.all(
    ['bowner', 'badmin', 'bmember', 'attacker', 'loner'].map((p) => signUp(deps, uniqueEmail(p))),
  );
  const orgB = await ownerB!.api.organizations.create({ name: 'Bravo Confidential Holdings' });
  for (const [person, role] of [
    [adminB!, 'ADMIN'],
    [memberB!, 'MEMBER'],
  ] as const) {
    await ownerB!.api.invitations.create({ organizationId: orgB.id, email: person.email, role });
    const token = await tokenFromOutbox(deps, person.email, 'invitation');
    await person.api.invitations.accept({ token });
  }
  const pendingEmail = uniqueEmail('bpending');
  const pending = await ownerB!.api.invitations.create({
    organizationId: orgB.id,
    email: pendingEmail,
    role: 'MEMBER',
  });

  const { taskId } = await ownerB!.api.tasks.start({
    organizationId: orgB.id,
    kind: 'example_streaming',
    input: { steps: 1, intervalMs: 10 },
  });
  const upload = { filename: 'secret-plan.png', contentType: 'image/png', size: 100 };
  const { assetId } = await ownerB!.api.assets.createUpload({ organizationId: orgB.id, ...upload });
  await ownerB!.api.organizations.secrets.set({
    organizationId: orgB.id,
    name: 'REPLICATE_API_TOKEN',
    value: SECRET_OF_B,
  });
  // What B's org_export stores (the worker's call: see the worker's org_export test).
  const exported = await storeAsset(deps, {
    organizationId: orgB.id,
    uploadedBy: ownerB!.user.id,
    filename: 'export-bravo.json',
    contentType: 'application/json',
    source: 'export',
    minReadRole: taskKinds.org_export.minRole,
    body: Buffer.from(JSON.stringify({ members: [{ email: ownerB!.email, role: 'ADMIN' }] })),
  });
  const areaIds: Record<string, string> = {};
  for (const area of Object.values(AREA_MATRICES))
    Object.assign(areaIds, await area.seed(ownerB!.api, orgB.id));
  const orgA = await attacker!.api.organizations.create({ name: 'Alpha Team' });
  const own = await attacker!.api.assets.createUpload({ organizationId: orgA.id, ...upload });
  const keyOfB = await ownerB!.api.apiKeys.create({
    organizationId: orgB.id,
    name: 'B deploys',
    role: 'ADMIN',
  });
  const memberKeyOfB = await ownerB!.api.apiKeys.create({
    organizationId: orgB.id,
    name: 'B member key',
    role: 'MEMBER',
  });
  const hookOfB = await ownerB!.api.webhooks.create({
    organizationId: orgB.id,
    url: 'https://hooks.bravo.example/woopdi',
  });
  const testOfB = await ownerB!.api.webhooks.test({ organizationId: orgB.id, webhookId: hookOfB.webhook.id });
  const attackerKey = await attacker!.api.apiKeys.create({
    organizationId: orgA.id,
    name: 'A admin key',
    role: 'ADMIN',
  });
  victim = {
    organizationId: orgB.id,
    invitationId: pending.id,
    ownerId: ownerB!.user.id,
    adminId: adminB!.user.id,
    memberId: memberB!.user.id,
    taskId,
    assetId,
    exportAssetId: exported.id,
    apiKeyId: keyOfB.apiKey.id,
    webhookId: hookOfB.webhook.id,
    deliveryId: testOfB.deliveryId,
    areaIds,
  };
  attackerOrg = { organizationId: orgA.id, assetId: own.assetId };
  secrets = {
    name: orgB.name,
    slug: orgB.slug,
    emails: [ownerB!.email, adminB!.email, memberB!.email, pendingEmail],
    ids: [
      orgB.id,
      pending.id,
      ownerB!.user.id,
      adminB!.user.id,
      memberB!.user.id,
      taskId,
      assetId,
      exported.id,
      keyOfB.apiKey.id,
      hookOfB.webhook.id,
      testOfB.deliveryId,
      ...Object.values(areaIds),
    ],
  };
  tokens.attackerKey = attackerKey.key;
  tokens.memberKeyOfB = memberKeyOfB.key;
  // Its first use is audited in B: done here, before any snapshot of B is taken.
  await callerFor(deps, memberKeyOfB.key).organizations.get({ organizationId: orgB.id });
  tokens.attacker = attacker!.tokens.accessToken;
  tokens.loner = loner!.tokens.accessToken;
  tokens.memberOfB = memberB!.tokens.accessToken;
  // A superadmin acting as someone has exactly their access: the support sessions are refused alike.
  const support = await signUp(deps, uniqueEmail('support'));
  await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, support.user.id));
  const actAs = async (userId: string) =>
    (await support.api.admin.impersonate({ userId, reason: 'tenant matrix', minutes: 30, allowWrite: true }))
      .accessToken;
  tokens.supportAsAttacker = await actAs(attacker!.user.id);
  tokens.supportAsMemberOfB = await actAs(memberB!.user.id);
  console.log(
    `tenant isolation: ${orgScoped.length} org-scoped queries/mutations enumerated from appRouter ` +
      `(${orgScoped.map((p) => p.path).join(', ')}); subscriptions outside the matrix: ${excludedSubscriptions.join(', ')} ` +
      `(org-scoped ones, gate checked at subscribe only: ${orgSubscriptions.join(', ')})`,
  );
});
afterAll(() => deps.close());

describe('the matrix covers the router', () => {
  it('every query and mutation declares who may call it (meta.access)', () => {
    const missing = procedures
      .filter(([, p]) => p._def.type !== 'subscription' && !p._def.meta?.access)
      .map(([k]) => k);
    expect(missing).toEqual([]);
  });

  it('every org-scoped procedure has an entry, and every entry is an org-scoped procedure', () => {
    expect(orgScoped.length).toBeGreaterThanOrEqual(14);
    expect(orgScoped.map((p) => p.path).filter((path) => !MATRIX[path])).toEqual([]);
    expect(Object.keys(MATRIX).filter((path) => !orgScoped.some((p) => p.path === path))).toEqual([]);
  });

  it("each entry addresses the procedure's gate key with one of B's ids, in a valid input", () => {
    const bIds = new Set([
      victim.organizationId,
      victim.invitationId,
      victim.taskId,
      victim.assetId,
      ...Object.values(victim.areaIds),
    ]);
    const byPath = Object.fromEntries(procedures);
    for (const { path, access } of covered) {
      const entry = MATRIX[path]!;
      const input = entry.input(victim);
      expect(bIds.has(String(input[access.via])), `${path} gates on ${access.via}`).toBe(true);
      // The inputs pass the procedure's own schemas, so a refusal below is never about a malformed input.
      for (const candidate of [input, ...(entry.mixed?.(victim, attackerOrg) ?? [])]) {
        for (const schema of byPath[path]!._def.inputs)
          expect(() => schema.parse(candidate), path).not.toThrow();
      }
    }
  });
});

/** The error must not name B, its members, or ids of B beyond those the caller sent. */
function expectNoLeak(path: string, message: string, sent: Record<string, unknown>) {
  const sentValues = new Set(Object.values(sent).map(String));
  const lower = message.toLowerCase();
  expect(lower, `${path} leaks B's name`).not.toContain(secrets.name.toLowerCase());
  expect(lower, `${path} leaks B's slug`).not.toContain(secrets.slug.toLowerCase());
  for (const email of secrets.emails) expect(lower, `${path} leaks a member's email`).not.toContain(email);
  expect(message, `${path} leaks B's secret`).not.toContain(SECRET_OF_B.slice(-4));
  for (const id of secrets.ids.filter((i) => !sentValues.has(i))) {
    expect(lower, `${path} leaks an id it was not sent`).not.toContain(id);
  }
}

describe('calls with another organization’s ids', () => {
  it('are refused for an ADMIN (and owner) of another organization, and leak nothing', async () => {
    const before = await snapshotOfB();
    const results: Record<string, string> = {};
    for (const { path } of covered) {
      const entry = MATRIX[path]!;
      const inputs = [entry.input(victim), ...(entry.mixed?.(victim, attackerOrg) ?? [])];
      for (const [i, input] of inputs.entries()) {
        const { code, message } = await callPath(deps, tokens.attacker, path, input);
        results[i === 0 ? path : `${path} (mixed ${i})`] = code;
        expectNoLeak(path, message, input);
      }
    }
    for (const [path, code] of Object.entries(results)) {
      expect(['FORBIDDEN', 'NOT_FOUND'], `${path} answered ${code}`).toContain(code);
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it('are refused for a support session acting as the ADMIN of another organization (allowWrite), and leak nothing', async () => {
    const before = await snapshotOfB();
    for (const { path } of covered) {
      const entry = MATRIX[path]!;
      const inputs = [entry.input(victim), ...(entry.mixed?.(victim, attackerOrg) ?? [])];
      for (const [i, input] of inputs.entries()) {
        const { code, message } = await callPath(deps, tokens.supportAsAttacker, path, input);
        // Exactly the attacker's own answer: the superadmin behind the session adds nothing.
        const asAttacker = await callPath(deps, tokens.attacker, path, input);
        expect(code, `${path} (${i})`).toBe(asAttacker.code);
        expectNoLeak(path, message, input);
      }
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it('are refused for a user who belongs to no team organization', async () => {
    const before = await snapshotOfB();
    for (const { path, access } of covered) {
      const input = MATRIX[path]!.input(victim);
      const { code, message } = await callPath(deps, tokens.loner, path, input);
      // An organization id is answered FORBIDDEN (the gate never says whether it exists); a
      // resource id is looked up within the caller's organizations, so it is NOT_FOUND.
      expect(code, path).toBe(access.via === 'organizationId' ? 'FORBIDDEN' : 'NOT_FOUND');
      expectNoLeak(path, message, input);
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it('are refused FORBIDDEN for a MEMBER of B where the procedure needs more', async () => {
    const before = await snapshotOfB();
    const needsMore = covered.filter((p) => p.access.minRole !== 'MEMBER');
    expect(needsMore.length).toBeGreaterThan(0);
    for (const { path } of needsMore) {
      const { code } = await callPath(deps, tokens.memberOfB, path, MATRIX[path]!.input(victim));
      expect(code, path).toBe('FORBIDDEN');
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it("are refused FORBIDDEN for a support session acting as B's MEMBER where the procedure needs more", async () => {
    const before = await snapshotOfB();
    for (const { path } of covered.filter((p) => p.access.minRole !== 'MEMBER')) {
      const { code } = await callPath(deps, tokens.supportAsMemberOfB, path, MATRIX[path]!.input(victim));
      expect(code, path).toBe('FORBIDDEN');
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it('are refused for an ADMIN API key of another organization (as for a non-member), and leak nothing', async () => {
    const before = await snapshotOfB();
    for (const { path, access } of covered) {
      const entry = MATRIX[path]!;
      const inputs = [entry.input(victim), ...(entry.mixed?.(victim, attackerOrg) ?? [])];
      for (const [i, input] of inputs.entries()) {
        const { code, message } = await callPath(deps, tokens.attackerKey, path, input);
        if (i === 0 && !access.userOnly) {
          // The key acts for A only: B's organization id is FORBIDDEN, B's resources NOT_FOUND.
          expect(code, path).toBe(access.via === 'organizationId' ? 'FORBIDDEN' : 'NOT_FOUND');
        } else expect(['FORBIDDEN', 'NOT_FOUND'], `${path} (${i}) answered ${code}`).toContain(code);
        expectNoLeak(path, message, input);
      }
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it("are refused FORBIDDEN for B's own MEMBER API key where the procedure needs more", async () => {
    const before = await snapshotOfB();
    for (const { path } of covered.filter((p) => p.access.minRole !== 'MEMBER' || p.access.userOnly)) {
      const { code } = await callPath(deps, tokens.memberKeyOfB, path, MATRIX[path]!.input(victim));
      expect(code, path).toBe('FORBIDDEN');
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it('are refused UNAUTHORIZED without a token', async () => {
    for (const { path } of covered) {
      expect((await callPath(deps, null, path, MATRIX[path]!.input(victim))).code, path).toBe('UNAUTHORIZED');
    }
  });

  it('an unknown organization id is answered like another organization’s (no existence oracle)', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const real = await callPath(deps, tokens.attacker, 'organizations.get', {
      organizationId: victim.organizationId,
    });
    const fake = await callPath(deps, tokens.attacker, 'organizations.get', { organizationId: unknown });
    expect(fake.code).toBe(real.code);
    expect(fake.message).toBe(real.message);
    const realInv = await callPath(deps, tokens.attacker, 'invitations.revoke', {
      invitationId: victim.invitationId,
    });
    const fakeInv = await callPath(deps, tokens.attacker, 'invitations.revoke', { invitationId: unknown });
    expect([fakeInv.code, fakeInv.message]).toEqual([realInv.code, realInv.message]);
  });

  it('tasks.start of every kind (from the registry) is refused to outsiders, and below its role to B’s MEMBER', async () => {
    const before = await snapshotOfB();
    const aboveMember = taskKindNames.filter((k) => taskKinds[k].minRole !== 'MEMBER');
    expect(aboveMember).toContain('org_export');
    for (const kind of taskKindNames) {
      const input = { organizationId: victim.organizationId, kind, input: SAMPLE_TASK_INPUT[kind] };
      for (const token of [tokens.attacker, tokens.loner]) {
        const { code, message } = await callPath(deps, token, 'tasks.start', input);
        expect(code, kind).toBe('FORBIDDEN');
        expectNoLeak(`tasks.start ${kind}`, message, input);
      }
      if (!aboveMember.includes(kind)) continue;
      const { code, message } = await callPath(deps, tokens.memberOfB, 'tasks.start', input);
      expect(code, kind).toBe('FORBIDDEN');
      expect(message, kind).toContain(`needs the ${taskKinds[kind].minRole} role`);
    }
    expect(await snapshotOfB()).toEqual(before);
  });

  it('B’s export file is hidden from outsiders and from B’s MEMBER: not listed, 404 by id', async () => {
    const before = await snapshotOfB();
    const byId = { organizationId: victim.organizationId, assetId: victim.exportAssetId };
    for (const token of [tokens.attacker, tokens.loner, tokens.memberOfB]) {
      for (const path of ['assets.get', 'assets.delete', 'assets.completeUpload']) {
        const { code, message } = await callPath(deps, token, path, byId);
        expect(code, path).toBe('NOT_FOUND');
        expectNoLeak(path, message, byId);
      }
    }
    const listed = await callerFor(deps, tokens.memberOfB).assets.list({
      organizationId: victim.organizationId,
    });
    expect(listed.assets.map((a) => a.id)).toContain(victim.assetId);
    expect(listed.assets.map((a) => a.id)).not.toContain(victim.exportAssetId);
    expect(await snapshotOfB()).toEqual(before);
  });

  it('org-scoped subscriptions refuse another organization’s ids when subscribing', async () => {
    expect(orgSubscriptions.filter((path) => !SUBSCRIPTIONS[path])).toEqual([]);
    for (const path of orgSubscriptions.filter((p) => SUBSCRIPTIONS[p])) {
      for (const token of [tokens.attacker, tokens.loner]) {
        const input = SUBSCRIPTIONS[path]!(victim);
        const { code, message } = await callPath(deps, token, path, input);
        expect(['FORBIDDEN', 'NOT_FOUND'], `${path} answered ${code}`).toContain(code);
        expectNoLeak(path, message, input);
      }
    }
  });
});

describe('linked sign-ins are their owner’s alone (users.identities / users.unlinkIdentity)', () => {
  it('an identity of B’s owner is not listed to anyone else, and unlinking it is 404 for every outsider and for B’s MEMBER', async () => {
    const [identity] = await deps.db
      .insert(userIdentities)
      .values({
        userId: victim.ownerId,
        provider: 'acme',
        subject: 'b-owner-subject',
        email: 'b-owner@idp.example',
      })
      .returning();
    const before = await snapshotOfB();
    for (const token of [tokens.attacker, tokens.loner, tokens.memberOfB]) {
      const listed = await callerFor(deps, token).users.identities();
      expect(JSON.stringify(listed)).not.toContain(identity!.id);
      expect(JSON.stringify(listed)).not.toContain('b-owner');
      const { code, message } = await callPath(deps, token, 'users.unlinkIdentity', {
        identityId: identity!.id,
      });
      expect(code).toBe('NOT_FOUND');
      expectNoLeak('users.unlinkIdentity', message, { identityId: identity!.id });
    }
    for (const token of [tokens.attackerKey, tokens.memberKeyOfB]) {
      const { code } = await callPath(deps, token, 'users.unlinkIdentity', { identityId: identity!.id });
      expect(code).toBe('FORBIDDEN');
    }
    const [still] = await deps.db.select().from(userIdentities).where(eq(userIdentities.id, identity!.id));
    expect(still?.userId).toBe(victim.ownerId);
    expect(await snapshotOfB()).toEqual(before);
  });
});
