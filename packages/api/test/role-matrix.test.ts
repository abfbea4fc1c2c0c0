// The member-management role matrix (DESIGN §4), generated from one decision table: every actor ×
// every target × every operation, each run through the real router (gates included) in a fresh
// organization, and checked both for its answer and for what it did (or did not do) to the database.
import { type TaskKind, taskKindNames, taskKinds } from '@woopdi/core';
import {
  auditLog,
  memberships,
  type OrgRole,
  organizations,
  tasks,
  userIdentities,
  users,
  userTwoFactor,
} from '@woopdi/db';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOrganization } from '../src/services/organizations.js';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { codeOf, insertApiKey, SAMPLE_TASK_INPUT, signUp, uniqueEmail } from './fixtures.js';

// ---------------------------------------------------------------------------------------------
// The decision table: an independent restatement of DESIGN §4 (deliberately not member-rules.ts).
// ---------------------------------------------------------------------------------------------

const ACTORS = ['owner', 'ADMIN', 'MODERATOR', 'MEMBER', 'non-member', 'system admin', 'superadmin'] as const;
/** `outsider` (a user who is not in the organization) is an extra target: it is the NOT_FOUND row. */
const TARGETS = ['owner', 'ADMIN', 'MODERATOR', 'MEMBER', 'self', 'outsider'] as const;
type Actor = (typeof ACTORS)[number];
type Target = (typeof TARGETS)[number];
type Operation = { kind: 'updateRole'; role: OrgRole } | { kind: 'remove' };
type Outcome = 'OK' | 'BAD_REQUEST' | 'FORBIDDEN' | 'NOT_FOUND';

const OPERATIONS: Operation[] = [
  { kind: 'updateRole', role: 'ADMIN' },
  { kind: 'updateRole', role: 'MODERATOR' },
  { kind: 'updateRole', role: 'MEMBER' },
  { kind: 'remove' },
];
const opName = (op: Operation) => (op.kind === 'remove' ? 'remove' : `updateRole→${op.role}`);

/** The actor's role in the organization; system roles give none (they do not bypass org gates). */
const ORG_ROLE: Record<Actor, OrgRole | null> = {
  owner: 'ADMIN',
  ADMIN: 'ADMIN',
  MODERATOR: 'MODERATOR',
  MEMBER: 'MEMBER',
  'non-member': null,
  'system admin': null,
  superadmin: null,
};
const RANK: Record<OrgRole, number> = { MEMBER: 1, MODERATOR: 2, ADMIN: 3 };

function expected(actor: Actor, target: Target, op: Operation): Outcome {
  const role = ORG_ROLE[actor];
  // Managing members is a MODERATOR+ procedure: no membership, or too low a role, is FORBIDDEN
  // before anything is said about the target.
  if (!role || RANK[role] < RANK.MODERATOR) return 'FORBIDDEN';
  // Nobody changes their own role (nor removes themself: they leave): 400.
  if (target === 'self' || (target === 'owner' && actor === 'owner')) return 'BAD_REQUEST';
  // A user who is not a member is not found in this organization.
  if (target === 'outsider') return 'NOT_FOUND';
  // The owner is never demoted or removed (ownership moves only by transfer): 403.
  if (target === 'owner') return 'FORBIDDEN';
  // ADMINs may do everything to anyone except the owner.
  if (role === 'ADMIN') return 'OK';
  // MODERATORs may promote a MEMBER to MODERATOR and remove MEMBERs; nothing else.
  if (target === 'MEMBER' && (op.kind === 'remove' || op.role === 'MODERATOR')) return 'OK';
  return 'FORBIDDEN';
}

/** invitations.create: MODERATORs invite MEMBERs only, ADMINs any role, MEMBERs and outsiders none. */
function expectedInvite(actor: Actor, role: OrgRole): Outcome {
  const own = ORG_ROLE[actor];
  if (!own || RANK[own] < RANK.MODERATOR) return 'FORBIDDEN';
  if (own === 'ADMIN') return 'OK';
  return role === 'MEMBER' ? 'OK' : 'FORBIDDEN';
}

/**
 * tasks.start: each kind names its minimum role in core's registry (org_export MODERATOR: it holds
 * members' emails and roles); every kind is enumerated from the registry, so a new one is covered.
 */
function expectedStart(actor: Actor, kind: TaskKind): Outcome {
  const own = ORG_ROLE[actor];
  if (!own || RANK[own] < RANK[taskKinds[kind].minRole]) return 'FORBIDDEN';
  return 'OK';
}

const CASES = ACTORS.flatMap((actor) =>
  TARGETS.flatMap((target) =>
    OPERATIONS.map((op) => ({ actor, target, op, outcome: expected(actor, target, op) })),
  ),
);
const START_CASES = ACTORS.flatMap((actor) =>
  taskKindNames.map((kind) => ({ actor, kind, outcome: expectedStart(actor, kind) })),
);
const INVITE_CASES = ACTORS.flatMap((actor) =>
  (['ADMIN', 'MODERATOR', 'MEMBER'] as const).map((role) => ({
    actor,
    role,
    outcome: expectedInvite(actor, role),
  })),
);

// ---------------------------------------------------------------------------------------------
// The world: one user per part, and a fresh organization per case.
// ---------------------------------------------------------------------------------------------

type Person = { id: string; email: string; token: string };
/** Actors, plus the targets that are somebody else: a target `ADMIN` is another ADMIN than the actor. */
type Part = Actor | 'target ADMIN' | 'target MODERATOR' | 'target MEMBER' | 'outsider';

/** Seat limits of the plans are the billing tests' business: here they never get in the way. */
const NO_SEAT_LIMIT = { PLAN_FREE_SEATS: '10000' };
/** Nor do the task kinds' entitlements and tokens (tasks-access.test.ts): here only roles are checked. */
const KINDS_ENTITLED = { PLAN_FREE_FEATURES: 'ai_generation', REPLICATE_API_TOKEN: 'r8_role_matrix_token' };
let deps: TestDeps;
const people = {} as Record<Part, Person>;

beforeAll(async () => {
  deps = await createTestDeps({ ...NO_SEAT_LIMIT, ...KINDS_ENTITLED });
  const parts: Part[] = [...ACTORS, 'target ADMIN', 'target MODERATOR', 'target MEMBER', 'outsider'];
  await Promise.all(
    parts.map(async (part) => {
      const { user, email, tokens } = await signUp(deps, uniqueEmail(part.replace(/\W/g, '')));
      people[part] = { id: user.id, email, token: tokens.accessToken };
    }),
  );
  // The system role is read from the database on every request, so the tokens stay valid.
  await deps.db.update(users).set({ systemRole: 'admin' }).where(eq(users.id, people['system admin'].id));
  await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, people.superadmin.id));
  console.log(
    `role matrix: ${CASES.length} (actor, target, operation) cases ` +
      `(${ACTORS.length} actors × ${TARGETS.length} targets × ${OPERATIONS.length} operations; ` +
      `${CASES.filter((c) => c.target !== 'outsider').length} without the outsider target), ` +
      `plus ${INVITE_CASES.length} invitations.create (actor, role) cases, ` +
      `plus ${START_CASES.length} tasks.start (actor, kind) cases (${taskKindNames.join(', ')})`,
  );
});
afterAll(() => deps.close());

/** A team organization owned by `owner` with two ADMINs, two MODERATORs and two MEMBERs besides. */
async function freshOrganization(): Promise<string> {
  return deps.db.transaction(async (tx) => {
    const org = await insertOrganization(tx, {
      name: 'Matrix Org',
      ownerUserId: people.owner.id,
      isSolo: false,
    });
    await tx.insert(memberships).values([
      { organizationId: org.id, userId: people.ADMIN.id, role: 'ADMIN' },
      { organizationId: org.id, userId: people.MODERATOR.id, role: 'MODERATOR' },
      { organizationId: org.id, userId: people.MEMBER.id, role: 'MEMBER' },
      { organizationId: org.id, userId: people['target ADMIN'].id, role: 'ADMIN' },
      { organizationId: org.id, userId: people['target MODERATOR'].id, role: 'MODERATOR' },
      { organizationId: org.id, userId: people['target MEMBER'].id, role: 'MEMBER' },
    ]);
    return org.id;
  });
}

async function rolesIn(organizationId: string): Promise<Record<string, OrgRole>> {
  const rows = await deps.db
    .select({ userId: memberships.userId, role: memberships.role })
    .from(memberships)
    .where(eq(memberships.organizationId, organizationId));
  return Object.fromEntries(rows.map((r) => [r.userId, r.role]));
}

function targetUser(actor: Actor, target: Target): Person {
  if (target === 'self' || target === 'owner' || target === 'outsider')
    return people[target === 'self' ? actor : target];
  return people[`target ${target}`];
}

describe('the decision table', () => {
  it('covers every outcome, and the specified actors × targets × operations', () => {
    const outcomes = new Set(CASES.map((c) => c.outcome));
    expect([...outcomes].sort()).toEqual(['BAD_REQUEST', 'FORBIDDEN', 'NOT_FOUND', 'OK']);
    expect(CASES).toHaveLength(7 * 6 * 4);
    // Spot checks of the sentences of DESIGN §4, so a wrong table cannot pass unnoticed.
    const find = (a: Actor, t: Target, o: string) =>
      CASES.find((c) => c.actor === a && c.target === t && opName(c.op) === o)!.outcome;
    expect(find('MODERATOR', 'MEMBER', 'updateRole→MODERATOR')).toBe('OK');
    expect(find('MODERATOR', 'MEMBER', 'updateRole→ADMIN')).toBe('FORBIDDEN');
    expect(find('MODERATOR', 'MODERATOR', 'remove')).toBe('FORBIDDEN');
    expect(find('ADMIN', 'owner', 'remove')).toBe('FORBIDDEN');
    expect(find('ADMIN', 'owner', 'updateRole→MEMBER')).toBe('FORBIDDEN');
    expect(find('ADMIN', 'ADMIN', 'updateRole→MEMBER')).toBe('OK');
    expect(find('owner', 'self', 'updateRole→MEMBER')).toBe('BAD_REQUEST');
    expect(find('superadmin', 'MEMBER', 'remove')).toBe('FORBIDDEN');
  });

  it('covers every task kind of the registry, and the export needs MODERATOR', () => {
    expect(Object.keys(SAMPLE_TASK_INPUT).sort()).toEqual([...taskKindNames].sort());
    expect(START_CASES).toHaveLength(ACTORS.length * taskKindNames.length);
    const start = (a: Actor, k: TaskKind) => START_CASES.find((c) => c.actor === a && c.kind === k)!.outcome;
    expect(start('MEMBER', 'org_export')).toBe('FORBIDDEN');
    expect(start('MODERATOR', 'org_export')).toBe('OK');
    expect(start('MEMBER', 'example_streaming')).toBe('OK');
    expect(start('superadmin', 'example_streaming')).toBe('FORBIDDEN');
  });
});

describe('members.updateRole / members.remove', () => {
  // Every case has its own organization, so they run concurrently (assertions through the test's own expect).
  it.concurrent.for(
    CASES.map((c) => ({ ...c, name: `${c.actor} ${opName(c.op)} on ${c.target} → ${c.outcome}` })),
  )('$name', async ({ actor, target, op, outcome }, { expect }) => {
    const organizationId = await freshOrganization();
    const before = await rolesIn(organizationId);
    const subject = targetUser(actor, target);
    const api = callerFor(deps, people[actor].token);
    const call =
      op.kind === 'remove'
        ? api.members.remove({ organizationId, userId: subject.id })
        : api.members.updateRole({ organizationId, userId: subject.id, role: op.role });
    expect(await codeOf(call)).toBe(outcome);

    const after = await rolesIn(organizationId);
    const audits = await deps.db.select().from(auditLog).where(eq(auditLog.organizationId, organizationId));
    if (outcome !== 'OK') {
      expect(after).toEqual(before);
      expect(audits).toEqual([]);
      return;
    }
    if (op.kind === 'remove') {
      const { [subject.id]: _gone, ...rest } = before;
      expect(after).toEqual(rest);
      expect(audits.map((a) => [a.action, a.actorUserId, a.targetId])).toEqual([
        ['member.removed', people[actor].id, subject.id],
      ]);
    } else {
      expect(after).toEqual({ ...before, [subject.id]: op.role });
      const changed = before[subject.id] !== op.role;
      expect(audits.map((a) => [a.action, a.targetId, a.metadata])).toEqual(
        changed ? [['member.role_changed', subject.id, { from: before[subject.id], to: op.role }]] : [],
      );
    }
  });
});

describe('invitations.create roles', () => {
  it.concurrent.for(
    INVITE_CASES.map((c) => ({ ...c, name: `${c.actor} invites as ${c.role} → ${c.outcome}` })),
  )('$name', async ({ actor, role, outcome }, { expect }) => {
    const organizationId = await freshOrganization();
    const email = uniqueEmail('invitee');
    expect(
      await codeOf(callerFor(deps, people[actor].token).invitations.create({ organizationId, email, role })),
    ).toBe(outcome);
    const rows = await deps.sql`select role from invitations where organization_id = ${organizationId}`;
    expect(rows.map((r) => r.role)).toEqual(outcome === 'OK' ? [role] : []);
  });
});

describe('members.list', () => {
  it('is open to MODERATOR and ADMIN members only', async () => {
    const organizationId = await freshOrganization();
    const results = Object.fromEntries(
      await Promise.all(
        ACTORS.map(async (a) => [
          a,
          await codeOf(callerFor(deps, people[a].token).members.list({ organizationId })),
        ]),
      ),
    );
    expect(results).toEqual(
      Object.fromEntries(
        ACTORS.map((a) => [a, ORG_ROLE[a] && RANK[ORG_ROLE[a]] >= RANK.MODERATOR ? 'OK' : 'FORBIDDEN']),
      ),
    );
    const { members } = await callerFor(deps, people.MODERATOR.token).members.list({ organizationId });
    expect(members.map((m) => [m.userId, m.role, m.isOwner])).toEqual(
      expect.arrayContaining([
        [people.owner.id, 'ADMIN', true],
        [people.ADMIN.id, 'ADMIN', false],
        [people.MODERATOR.id, 'MODERATOR', false],
        [people.MEMBER.id, 'MEMBER', false],
      ]),
    );
    expect(members).toHaveLength(7);
  });

  it('pages with the cursor, though every membership was created in one transaction (equal created_at)', async () => {
    const organizationId = await freshOrganization();
    const api = callerFor(deps, people.ADMIN.token);
    const { members: all } = await api.members.list({ organizationId });
    const walked: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await api.members.list({ organizationId, limit: 2, cursor });
      walked.push(...page.members.map((m) => m.userId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && ++pages < 10);
    expect(walked).toEqual(all.map((m) => m.userId));
    expect(new Set(walked).size).toBe(7);
  });
});

describe('tasks.start per kind', () => {
  it.concurrent.for(START_CASES.map((c) => ({ ...c, name: `${c.actor} starts ${c.kind} → ${c.outcome}` })))(
    '$name',
    async ({ actor, kind, outcome }, { expect }) => {
      const organizationId = await freshOrganization();
      const call = callerFor(deps, people[actor].token).tasks.start({
        organizationId,
        kind,
        input: SAMPLE_TASK_INPUT[kind],
      });
      const error = await call.then(
        () => undefined,
        (e: { code?: string; message?: string }) => e,
      );
      expect(error?.code ?? 'OK').toBe(outcome);
      // A member below the kind's role is told which role it needs.
      if (error && ORG_ROLE[actor]) {
        expect(error.message).toContain(`needs the ${taskKinds[kind].minRole} role`);
      }
      const rows = await deps.db
        .select({ kind: tasks.kind })
        .from(tasks)
        .where(eq(tasks.organizationId, organizationId));
      expect(rows).toEqual(outcome === 'OK' ? [{ kind }] : []);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// API keys as actors: a key of role R, created by a member of role R, is decided exactly as that
// member (its `self` is its creator); what it does is audited with the key as the actor.
// ---------------------------------------------------------------------------------------------

const KEY_ROLES = ['ADMIN', 'MODERATOR', 'MEMBER'] as const;
const KEY_CASES = KEY_ROLES.flatMap((role) =>
  TARGETS.flatMap((target) =>
    OPERATIONS.map((op) => ({ role, target, op, outcome: expected(role, target, op) })),
  ),
);

/** A key of `role` in the organization, made by the member of that role (the matrix's own). */
const keyIn = (organizationId: string, role: (typeof KEY_ROLES)[number]) =>
  insertApiKey(deps, organizationId, people[role].id, role);

describe('members.updateRole / members.remove through an API key', () => {
  it.concurrent.for(
    KEY_CASES.map((c) => ({ ...c, name: `${c.role} key ${opName(c.op)} on ${c.target} → ${c.outcome}` })),
  )('$name', async ({ role, target, op, outcome }, { expect }) => {
    const organizationId = await freshOrganization();
    const key = await keyIn(organizationId, role);
    const before = await rolesIn(organizationId);
    const subject = targetUser(role, target);
    const api = callerFor(deps, key.key);
    const call =
      op.kind === 'remove'
        ? api.members.remove({ organizationId, userId: subject.id })
        : api.members.updateRole({ organizationId, userId: subject.id, role: op.role });
    expect(await codeOf(call)).toBe(outcome);
    const after = await rolesIn(organizationId);
    const audits = (
      await deps.db.select().from(auditLog).where(eq(auditLog.organizationId, organizationId))
    ).filter((a) => !a.action.startsWith('api_key.'));
    if (outcome !== 'OK') {
      expect(after).toEqual(before);
      expect(audits).toEqual([]);
      return;
    }
    expect(after[subject.id]).toBe(op.kind === 'remove' ? undefined : op.role);
    for (const a of audits) expect([a.actorUserId, a.actorApiKeyId]).toEqual([null, key.id]);
  });
});

describe('invitations.create and tasks.start through an API key', () => {
  it.concurrent.for(
    KEY_ROLES.flatMap((keyRole) =>
      (['ADMIN', 'MODERATOR', 'MEMBER'] as const).map((role) => ({
        keyRole,
        role,
        outcome: expectedInvite(keyRole, role),
        name: `${keyRole} key invites as ${role} → ${expectedInvite(keyRole, role)}`,
      })),
    ),
  )('$name', async ({ keyRole, role, outcome }, { expect }) => {
    const organizationId = await freshOrganization();
    const key = await keyIn(organizationId, keyRole);
    const email = uniqueEmail('keyinvitee');
    expect(await codeOf(callerFor(deps, key.key).invitations.create({ organizationId, email, role }))).toBe(
      outcome,
    );
    const rows = await deps.sql`select role from invitations where organization_id = ${organizationId}`;
    expect(rows.map((r) => r.role)).toEqual(outcome === 'OK' ? [role] : []);
  });

  it.concurrent.for(
    KEY_ROLES.flatMap((keyRole) =>
      taskKindNames.map((kind) => ({
        keyRole,
        kind,
        outcome: expectedStart(keyRole, kind),
        name: `${keyRole} key starts ${kind} → ${expectedStart(keyRole, kind)}`,
      })),
    ),
  )('$name', async ({ keyRole, kind, outcome }, { expect }) => {
    const organizationId = await freshOrganization();
    const key = await keyIn(organizationId, keyRole);
    const call = callerFor(deps, key.key).tasks.start({
      organizationId,
      kind,
      input: SAMPLE_TASK_INPUT[kind],
    });
    expect(await codeOf(call)).toBe(outcome);
    const rows = await deps.db
      .select({ kind: tasks.kind })
      .from(tasks)
      .where(eq(tasks.organizationId, organizationId));
    expect(rows).toEqual(outcome === 'OK' ? [{ kind }] : []);
  });
});

// ---------------------------------------------------------------------------------------------
// Support sessions (admin.impersonate): a superadmin acting as an actor has exactly that actor's
// access — the same table, no more — and what it does is audited as the actor, naming the superadmin.
// ---------------------------------------------------------------------------------------------

const IMPERSONATED: Actor[] = ['owner', 'ADMIN', 'MODERATOR', 'MEMBER', 'non-member'];
const supportTokens = {} as Record<Actor, { writes: string; readOnly: string }>;

describe('members.updateRole / members.remove through a support session acting as the actor', () => {
  beforeAll(async () => {
    const superadmin = callerFor(deps, people.superadmin.token);
    for (const actor of IMPERSONATED) {
      const open = (allowWrite: boolean) =>
        superadmin.admin
          .impersonate({ userId: people[actor].id, reason: 'role matrix', minutes: 30, allowWrite })
          .then((s) => s.accessToken);
      supportTokens[actor] = { writes: await open(true), readOnly: await open(false) };
    }
  });

  it.concurrent.for(
    CASES.filter((c) => IMPERSONATED.includes(c.actor)).map((c) => ({
      ...c,
      name: `support as ${c.actor} ${opName(c.op)} on ${c.target} → ${c.outcome}`,
    })),
  )('$name', async ({ actor, target, op, outcome }, { expect }) => {
    const organizationId = await freshOrganization();
    const before = await rolesIn(organizationId);
    const subject = targetUser(actor, target);
    const api = callerFor(deps, supportTokens[actor].writes);
    const call =
      op.kind === 'remove'
        ? api.members.remove({ organizationId, userId: subject.id })
        : api.members.updateRole({ organizationId, userId: subject.id, role: op.role });
    expect(await codeOf(call)).toBe(outcome);
    const after = await rolesIn(organizationId);
    const audits = (
      await deps.db.select().from(auditLog).where(eq(auditLog.organizationId, organizationId))
    ).filter((a) => !a.action.startsWith('support.'));
    if (outcome !== 'OK') {
      expect(after).toEqual(before);
      expect(audits).toEqual([]);
      return;
    }
    expect(after[subject.id]).toBe(op.kind === 'remove' ? undefined : op.role);
    for (const a of audits) {
      expect([a.actorUserId, a.impersonatorUserId]).toEqual([people[actor].id, people.superadmin.id]);
    }
  });

  it.concurrent.for(
    IMPERSONATED.map((actor) => ({ actor, name: `read-only support as ${actor} changes nobody` })),
  )('$name', async ({ actor }, { expect }) => {
    const organizationId = await freshOrganization();
    const before = await rolesIn(organizationId);
    const api = callerFor(deps, supportTokens[actor].readOnly);
    for (const op of OPERATIONS) {
      const subject = people['target MEMBER'];
      const call =
        op.kind === 'remove'
          ? api.members.remove({ organizationId, userId: subject.id })
          : api.members.updateRole({ organizationId, userId: subject.id, role: op.role });
      expect(await codeOf(call)).toBe('FORBIDDEN');
    }
    expect(await rolesIn(organizationId)).toEqual(before);
  });

  it('a support session acting as a superadmin or system admin cannot exist', async () => {
    const superadmin = callerFor(deps, people.superadmin.token);
    for (const part of ['system admin', 'superadmin'] as const) {
      const call = superadmin.admin.impersonate({ userId: people[part].id, reason: 'matrix', minutes: 5 });
      expect(await codeOf(call)).toBe(part === 'superadmin' ? 'BAD_REQUEST' : 'FORBIDDEN');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Linked sign-ins (users.identities / users.unlinkIdentity): user-scoped, so no organization role
// and no system role reaches another person's; an organization API key is not a person (403).
// The OAuth exchange and provider list are public (packages/api/test/oauth.test.ts).
// ---------------------------------------------------------------------------------------------

describe('users.identities / users.unlinkIdentity', () => {
  /** An identity of the `outsider` part, which every actor tries to see and to unlink. */
  async function outsiderIdentity() {
    const [row] = await deps.db
      .insert(userIdentities)
      .values({
        userId: people.outsider.id,
        provider: 'acme',
        subject: `matrix-${Math.random().toString(36).slice(2)}`,
        email: people.outsider.email,
        emailVerified: true,
      })
      .returning();
    return row!;
  }

  it.concurrent.for(
    ACTORS.map((actor) => ({ actor, name: `${actor}: own list only; another's identity → NOT_FOUND` })),
  )('$name', async ({ actor }, { expect }) => {
    const theirs = await outsiderIdentity();
    const api = callerFor(deps, people[actor].token);
    const listed = await api.users.identities();
    expect(listed.identities.map((i) => i.id)).not.toContain(theirs.id);
    expect(await codeOf(api.users.unlinkIdentity({ identityId: theirs.id }))).toBe('NOT_FOUND');
    const [still] = await deps.db.select().from(userIdentities).where(eq(userIdentities.id, theirs.id));
    expect(still?.userId).toBe(people.outsider.id);
  });

  it.concurrent.for(KEY_ROLES.map((role) => ({ role, name: `${role} key → FORBIDDEN for both` })))(
    '$name',
    async ({ role }, { expect }) => {
      const organizationId = await freshOrganization();
      const key = await keyIn(organizationId, role);
      const theirs = await outsiderIdentity();
      const api = callerFor(deps, key.key);
      expect(await codeOf(api.users.identities())).toBe('FORBIDDEN');
      expect(await codeOf(api.users.unlinkIdentity({ identityId: theirs.id }))).toBe('FORBIDDEN');
    },
  );
});

// ---------------------------------------------------------------------------------------------
// organizations.update { requireTwoFactor }: an ADMIN (owner included) who has two-factor on; a
// person, never an API key (keys are not people, and are not subject to the requirement).
// ---------------------------------------------------------------------------------------------

function expectedRequire(actor: Actor, actorHasTwoFactor: boolean): Outcome {
  const own = ORG_ROLE[actor];
  if (!own || own !== 'ADMIN') return 'FORBIDDEN';
  return actorHasTwoFactor ? 'OK' : 'FORBIDDEN';
}

const REQUIRE_CASES = ACTORS.flatMap((actor) =>
  [false, true].map((withTwoFactor) => ({
    actor,
    withTwoFactor,
    outcome: expectedRequire(actor, withTwoFactor),
    name: `${actor} ${withTwoFactor ? 'with' : 'without'} two-factor requires it → ${expectedRequire(actor, withTwoFactor)}`,
  })),
);

describe('organizations.update requireTwoFactor', () => {
  // Each actor's twin with two-factor on, so the main world's people stay as they are.
  const twins = {} as Record<Actor, Person>;
  beforeAll(async () => {
    await Promise.all(
      ACTORS.map(async (actor) => {
        const { user, email, tokens } = await signUp(deps, uniqueEmail(`tf${actor.replace(/\W/g, '')}`));
        await deps.db
          .insert(userTwoFactor)
          .values({ userId: user.id, sealedSecret: 'v1.unused', enabledAt: new Date() });
        twins[actor] = { id: user.id, email, token: tokens.accessToken };
      }),
    );
    await deps.db.update(users).set({ systemRole: 'admin' }).where(eq(users.id, twins['system admin'].id));
    await deps.db.update(users).set({ systemRole: 'superadmin' }).where(eq(users.id, twins.superadmin.id));
  });

  /** An organization of the actor's world (the twins' when `withTwoFactor`). */
  async function orgOf(withTwoFactor: boolean): Promise<string> {
    const who = withTwoFactor ? twins : people;
    return deps.db.transaction(async (tx) => {
      const org = await insertOrganization(tx, {
        name: 'Strict Org',
        ownerUserId: who.owner.id,
        isSolo: false,
      });
      await tx.insert(memberships).values(
        (['ADMIN', 'MODERATOR', 'MEMBER'] as const).map((role) => ({
          organizationId: org.id,
          userId: who[role].id,
          role,
        })),
      );
      return org.id;
    });
  }

  const requirement = async (organizationId: string) =>
    (
      await deps.db
        .select({ on: organizations.requireTwoFactor })
        .from(organizations)
        .where(eq(organizations.id, organizationId))
    )[0]!.on;

  it('the table: only an ADMIN with two-factor on', () => {
    const find = (a: Actor, tf: boolean) =>
      REQUIRE_CASES.find((c) => c.actor === a && c.withTwoFactor === tf)!;
    expect(find('owner', true).outcome).toBe('OK');
    expect(find('ADMIN', false).outcome).toBe('FORBIDDEN');
    expect(find('MODERATOR', true).outcome).toBe('FORBIDDEN');
    expect(find('superadmin', true).outcome).toBe('FORBIDDEN');
  });

  it.concurrent.for(REQUIRE_CASES)('$name', async ({ actor, withTwoFactor, outcome }, { expect }) => {
    const organizationId = await orgOf(withTwoFactor);
    const token = (withTwoFactor ? twins : people)[actor].token;
    const call = callerFor(deps, token).organizations.update({ organizationId, requireTwoFactor: true });
    expect(await codeOf(call)).toBe(outcome);
    expect(await requirement(organizationId)).toBe(outcome === 'OK');
  });

  it.concurrent.for(KEY_ROLES.map((role) => ({ role, name: `${role} key requires it → FORBIDDEN` })))(
    '$name',
    async ({ role }, { expect }) => {
      const organizationId = await orgOf(true);
      const key = await insertApiKey(deps, organizationId, twins[role].id, role);
      const call = callerFor(deps, key.key).organizations.update({ organizationId, requireTwoFactor: true });
      expect(await codeOf(call)).toBe('FORBIDDEN');
      expect(await requirement(organizationId)).toBe(false);
    },
  );
});
