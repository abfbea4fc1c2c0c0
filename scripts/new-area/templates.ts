// What `pnpm new:area` writes: one function per file, in the shapes of the hand-written areas
// (assets, secrets). Biome formats the result, so the templates only need to be valid code.
import type { OrgRole } from '@woopdi/db';

export const FIELD_TYPES = [
  'string',
  'text',
  'int',
  'bigint',
  'boolean',
  'timestamp',
  'uuid',
  'json',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface Field {
  /** camelCase, as in TypeScript, schemas and JSON. */
  name: string;
  /** snake_case, as in SQL. */
  column: string;
  type: FieldType;
}

export interface Names {
  /** `projects`: router key, table constant, service namespace. */
  plural: string;
  /** `Projects` */
  Plural: string;
  /** `project` */
  singular: string;
  /** `Project` */
  Singular: string;
  /** `projects`: REST path segment and file names. */
  kebab: string;
  /** `projects`: SQL table. */
  snake: string;
  /** `project`: audit actions (`project.created`) and audit target type. */
  singularSnake: string;
  /** `projectId` */
  idKey: string;
}

export interface AreaSpec {
  names: Names;
  fields: Field[];
  readRole: OrgRole;
  writeRole: OrgRole;
  /** A task kind name (`project_report`) with its input schema and worker handler, if asked for. */
  task?: string;
  /** The command line, quoted in the header comments. */
  command: string;
}

const SQL_TYPE: Record<FieldType, (f: Field) => string> = {
  string: (f) => `text('${f.column}').notNull()`,
  text: (f) => `text('${f.column}').notNull()`,
  int: (f) => `integer('${f.column}').notNull()`,
  bigint: (f) => `bigint('${f.column}', { mode: 'number' }).notNull()`,
  boolean: (f) => `boolean('${f.column}').notNull().default(false)`,
  timestamp: (f) => `tstz('${f.column}').notNull()`,
  uuid: (f) => `uuid('${f.column}').notNull()`,
  json: (f) => `jsonb('${f.column}').$type<Record<string, unknown>>().notNull().default({})`,
};
const PG_IMPORT: Record<FieldType, string | null> = {
  string: 'text',
  text: 'text',
  int: 'integer',
  bigint: 'bigint',
  boolean: 'boolean',
  timestamp: null,
  uuid: 'uuid',
  json: 'jsonb',
};

/** Every input has a bound (STANDARDS): lengths, integer ranges, JSON size. */
const ZOD_INPUT: Record<FieldType, string> = {
  string: 'z.string().trim().min(1).max(200)',
  text: 'z.string().max(10_000)',
  int: 'z.number().int().min(-2_147_483_648).max(2_147_483_647)',
  bigint: 'z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)',
  boolean: 'z.boolean()',
  timestamp: 'isoDate',
  uuid: 'uuid()',
  json: "z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= 16_384, { message: 'Keep it under 16 KB of JSON' })",
};
const ZOD_OUTPUT: Record<FieldType, string> = {
  string: 'z.string()',
  text: 'z.string()',
  int: 'z.number().int()',
  bigint: 'z.number().int()',
  boolean: 'z.boolean()',
  timestamp: 'isoDate',
  uuid: 'uuid()',
  json: 'z.record(z.string(), z.unknown())',
};
const TS_TYPE: Record<FieldType, string> = {
  string: 'string',
  text: 'string',
  int: 'number',
  bigint: 'number',
  boolean: 'boolean',
  timestamp: 'string',
  uuid: 'string',
  json: 'Record<string, unknown>',
};
/** Two distinct valid values per type: one to create with, one to update to. */
const SAMPLES: Record<FieldType, [string, string]> = {
  string: ["'Apollo'", "'Gemini'"],
  text: ["'First notes'", "'Second notes'"],
  int: ['1200', '3400'],
  bigint: ['9_000_000_000', '9_000_000_001'],
  boolean: ['false', 'true'],
  timestamp: ["'2030-01-01T00:00:00.000Z'", "'2031-06-15T12:30:00.000Z'"],
  uuid: ["'5d4c0e0e-2f3b-4c1a-9f60-0b3c8a7e1d01'", "'5d4c0e0e-2f3b-4c1a-9f60-0b3c8a7e1d02'"],
  json: ['{ color: "blue" }', '{ color: "green", size: 2 }'],
};

const roleText = (role: OrgRole) =>
  role === 'MEMBER' ? 'Any member' : role === 'MODERATOR' ? 'MODERATOR or ADMIN' : 'ADMIN only';

const header = (spec: AreaSpec, what: string) => `// ${what} (written by \`${spec.command}\`; edit freely).`;

const sampleObject = (spec: AreaSpec, which: 0 | 1) =>
  `{ ${spec.fields.map((f) => `${f.name}: ${SAMPLES[f.type][which]}`).join(', ')} }`;

const toColumn = (f: Field, value: string) => (f.type === 'timestamp' ? `new Date(${value})` : value);
const fromRow = (f: Field, row: string) =>
  f.type === 'timestamp' ? `${row}.${f.name}.toISOString()` : `${row}.${f.name}`;

export function schemaFile(spec: AreaSpec): string {
  const { names: n, fields } = spec;
  const pg = new Set(['index', 'pgTable', 'uuid']);
  for (const f of fields) if (PG_IMPORT[f.type]) pg.add(PG_IMPORT[f.type]!);
  const columns = ['createdAt', 'id', 'updatedAt'];
  if (fields.some((f) => f.type === 'timestamp')) columns.push('tstz');
  return `${header(spec, `${n.Plural} of an organization`)}
import { ${[...pg].sort().join(', ')} } from 'drizzle-orm/pg-core';
import { ${columns.sort().join(', ')} } from './columns.js';
import { organizations } from './organizations.js';
import { users } from './users.js';

export const ${n.plural} = pgTable(
  '${n.snake}',
  {
    id: id(),
    organizationId: uuid('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
${fields.map((f) => `    ${f.name}: ${SQL_TYPE[f.type](f)},`).join('\n')}
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  // The list reads one organization's rows newest first, by (created_at, id) keyset.
  (t) => [index('${n.snake}_organization_created_idx').on(t.organizationId, t.createdAt, t.id)],
);
`;
}

export function serviceFile(spec: AreaSpec): string {
  const { names: n, fields } = spec;
  const Row = `${n.Singular}Row`;
  const Fields = `${n.Singular}Fields`;
  const target = (row: string) => `{ type: '${n.singularSnake}', id: ${row}.id }`;
  return `${header(spec, `${n.Plural} of an organization: the rules, callable without HTTP`)}
// Every query is scoped by the caller's organization (the gate resolved it), so another
// organization's id is NOT_FOUND; every change writes its audit entry in the same transaction.
import { notFound } from '@woopdi/core';
import { ${n.plural} } from '@woopdi/db';
import { and, desc, eq } from 'drizzle-orm';
import type { Membership } from '../middleware/membership.js';
import { audit } from './audit.js';
import type { ServiceDeps } from './deps.js';
import { decodeCursor, keysetAfter, page } from './pagination.js';

type ${Row} = typeof ${n.plural}.$inferSelect;

/** What a client sends: times as ISO-8601 strings. */
export interface ${Fields} {
${fields.map((f) => `  ${f.name}: ${TS_TYPE[f.type]};`).join('\n')}
}

export const public${n.Singular} = (r: ${Row}) => ({
  id: r.id,
  organizationId: r.organizationId,
  createdBy: r.createdBy,
${fields.map((f) => `  ${f.name}: ${fromRow(f, 'r')},`).join('\n')}
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

const inOrganization = (actor: Membership, ${n.idKey}: string) =>
  and(eq(${n.plural}.organizationId, actor.organizationId), eq(${n.plural}.id, ${n.idKey}));

export async function create${n.Singular}(deps: ServiceDeps, actor: Membership, input: ${Fields}) {
  const row = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(${n.plural})
      .values({
        organizationId: actor.organizationId,
        createdBy: actor.userId,
${fields.map((f) => `        ${f.name}: ${toColumn(f, `input.${f.name}`)},`).join('\n')}
      })
      .returning();
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: '${n.singularSnake}.created',
      target: ${target('row!')},
    });
    return row!;
  });
  return public${n.Singular}(row);
}

export async function get${n.Singular}(deps: ServiceDeps, actor: Membership, ${n.idKey}: string) {
  const [row] = await deps.db.select().from(${n.plural}).where(inOrganization(actor, ${n.idKey})).limit(1);
  if (!row) throw notFound('${n.Singular}');
  return public${n.Singular}(row);
}

/** Newest first; \`cursor\` is the previous page's \`nextCursor\`. */
export async function list${n.Plural}(
  deps: ServiceDeps,
  actor: Membership,
  input: { limit: number; cursor?: string | undefined },
) {
  const before = decodeCursor(input.cursor);
  const rows = await deps.db
    .select()
    .from(${n.plural})
    .where(
      and(
        eq(${n.plural}.organizationId, actor.organizationId),
        keysetAfter(${n.plural}.createdAt, ${n.plural}.id, before, 'desc'),
      ),
    )
    .orderBy(desc(${n.plural}.createdAt), desc(${n.plural}.id))
    .limit(input.limit + 1);
  const { items, nextCursor } = page(rows, input.limit, (r) => ({ at: r.createdAt, id: r.id }));
  return { ${n.plural}: items.map(public${n.Singular}), nextCursor };
}

/** Changes the fields that are set; the audit entry names them. */
export async function update${n.Singular}(
  deps: ServiceDeps,
  actor: Membership,
  ${n.idKey}: string,
  changes: Partial<${Fields}>,
) {
  const fields = Object.keys(changes).filter((k) => changes[k as keyof ${Fields}] !== undefined);
  const row = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(${n.plural})
      .set({
${fields
  .map((f) =>
    f.type === 'timestamp'
      ? `        ${f.name}: changes.${f.name} === undefined ? undefined : new Date(changes.${f.name}),`
      : `        ${f.name}: changes.${f.name},`,
  )
  .join('\n')}
      })
      .where(inOrganization(actor, ${n.idKey}))
      .returning();
    if (!row) throw notFound('${n.Singular}');
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: '${n.singularSnake}.updated',
      target: ${target('row')},
      metadata: { fields },
    });
    return row;
  });
  return public${n.Singular}(row);
}

export async function delete${n.Singular}(deps: ServiceDeps, actor: Membership, ${n.idKey}: string) {
  await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .delete(${n.plural})
      .where(inOrganization(actor, ${n.idKey}))
      .returning({ id: ${n.plural}.id });
    if (!row) throw notFound('${n.Singular}');
    await audit(tx, {
      organizationId: actor.organizationId,
      actorUserId: actor.userId,
      action: '${n.singularSnake}.deleted',
      target: ${target('row')},
    });
  });
  return { deleted: true as const };
}
`;
}

export function routerFile(spec: AreaSpec): string {
  const { names: n, fields, readRole: r, writeRole: w } = spec;
  const base = `/organizations/{organizationId}/${n.kebab}`;
  const one = `${base}/{${n.idKey}}`;
  const usesIsoDate = true;
  const pass = (from: string) => `{ ${fields.map((f) => `${f.name}: ${from}.${f.name}`).join(', ')} }`;
  const createFields = fields
    .map((f) => `${f.name}: fields.${f.name}${f.type === 'boolean' ? '.default(false)' : ''}`)
    .join(', ');
  return `${header(spec, `${n.Plural} of an organization: thin, the rules are in services/${n.kebab}.ts`)}
import { uuid } from '@woopdi/core';
import { z } from 'zod';
import { cursor, ${usesIsoDate ? 'isoDate, ' : ''}limit } from '../schemas.js';
import * as ${n.plural} from '../services/${n.kebab}.js';
import { orgProcedure, router } from '../trpc.js';

const tags = ['${n.kebab}'];

/** The bounds of every field a client sends. */
const fields = {
${fields.map((f) => `  ${f.name}: ${ZOD_INPUT[f.type]},`).join('\n')}
};

const ${n.singular} = z.object({
  id: uuid(),
  organizationId: uuid(),
  createdBy: uuid().nullable().describe('The member who created it; null once they are deleted'),
${fields.map((f) => `  ${f.name}: ${ZOD_OUTPUT[f.type]},`).join('\n')}
  createdAt: isoDate,
  updatedAt: isoDate,
});

const ${n.singular}Input = z.object({ organizationId: uuid(), ${n.idKey}: uuid() });

export const ${n.plural}Router = router({
  create: orgProcedure('${w}')
    .meta({
      openapi: {
        method: 'POST',
        path: '${base}',
        tags,
        summary: 'Create a ${n.singular}',
        description: '${roleText(w)}. Recorded in the audit log (${n.singularSnake}.created).',
      },
    })
    .input(z.object({ organizationId: uuid(), ${createFields} }))
    .output(${n.singular})
    .mutation(({ ctx, input }) => ${n.plural}.create${n.Singular}(ctx, ctx.membership, ${pass('input')})),

  list: orgProcedure('${r}')
    .meta({
      openapi: {
        method: 'GET',
        path: '${base}',
        tags,
        summary: "The organization's ${n.plural}, newest first",
        description: '${roleText(r)}. Pass \`nextCursor\` back as \`cursor\` for older ones.',
      },
    })
    .input(z.object({ organizationId: uuid(), limit, cursor }))
    .output(z.object({ ${n.plural}: z.array(${n.singular}), nextCursor: z.string().nullable() }))
    .query(({ ctx, input }) => ${n.plural}.list${n.Plural}(ctx, ctx.membership, input)),

  get: orgProcedure('${r}')
    .meta({
      openapi: {
        method: 'GET',
        path: '${one}',
        tags,
        summary: 'A ${n.singular}',
        description: "${roleText(r)}. 404 when the organization has no ${n.singular} with this id (another organization's included).",
      },
    })
    .input(${n.singular}Input)
    .output(${n.singular})
    .query(({ ctx, input }) => ${n.plural}.get${n.Singular}(ctx, ctx.membership, input.${n.idKey})),

  update: orgProcedure('${w}')
    .meta({
      openapi: {
        method: 'PATCH',
        path: '${one}',
        tags,
        summary: 'Change a ${n.singular}',
        description: '${roleText(w)}. Send only the fields to change (at least one); 404 for an unknown id. Recorded in the audit log (${n.singularSnake}.updated, with the changed field names).',
      },
    })
    .input(
      ${n.singular}Input
        .extend({ ${fields.map((f) => `${f.name}: fields.${f.name}.optional()`).join(', ')} })
        .refine((input) => ${fields.map((f) => `input.${f.name} !== undefined`).join(' || ')}, {
          message: 'Send at least one field to change: ${fields.map((f) => f.name).join(', ')}',
        }),
    )
    .output(${n.singular})
    .mutation(({ ctx, input }) =>
      ${n.plural}.update${n.Singular}(ctx, ctx.membership, input.${n.idKey}, ${pass('input')}),
    ),

  delete: orgProcedure('${w}')
    .meta({
      openapi: {
        method: 'DELETE',
        path: '${one}',
        tags,
        summary: 'Delete a ${n.singular}',
        description: '${roleText(w)}. 404 for an unknown id. Recorded in the audit log (${n.singularSnake}.deleted).',
      },
    })
    .input(${n.singular}Input)
    .output(z.object({ deleted: z.literal(true) }))
    .mutation(({ ctx, input }) => ${n.plural}.delete${n.Singular}(ctx, ctx.membership, input.${n.idKey})),
});
`;
}

const RANKS: OrgRole[] = ['MEMBER', 'MODERATOR', 'ADMIN'];
const atLeast = (role: OrgRole, min: OrgRole) => RANKS.indexOf(role) >= RANKS.indexOf(min);

export function apiTestFile(spec: AreaSpec): string {
  const { names: n, fields, readRole, writeRole, task } = spec;
  const required = fields.filter((f) => f.type !== 'boolean');
  const stringField = fields.find((f) => f.type === 'string');
  const roleCases = RANKS.map(
    (role) =>
      `  { role: '${role}', reads: ${atLeast(role, readRole)}, writes: ${atLeast(role, writeRole)} },`,
  ).join('\n');
  return `${header(spec, `${n.Plural}: the rules through the router (gates included) on a real database`)}
import { auditLog${task ? ', tasks' : ''}, ${n.plural}, type OrgRole } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { addMember, codeOf, signUp } from './fixtures.js';

const sample = ${sampleObject(spec, 0)};
const changed = ${sampleObject(spec, 1)};

let deps: TestDeps;
let owner: Awaited<ReturnType<typeof signUp>>;
let organizationId: string;

beforeAll(async () => {
  deps = await createTestDeps();
  owner = await signUp(deps);
  organizationId = (await owner.api.organizations.create({ name: '${n.Plural} Org' })).id;
});
afterAll(() => deps.close());

async function auditActions(targetId: string) {
  const rows = await deps.db
    .select({ action: auditLog.action, actorUserId: auditLog.actorUserId })
    .from(auditLog)
    .where(and(eq(auditLog.organizationId, organizationId), eq(auditLog.targetId, targetId)));
  return rows.map((r) => [r.action, r.actorUserId]).sort();
}

describe('${n.plural}', () => {
  it('a ${n.singular} is created, read, changed and deleted, with one audit entry per change', async () => {
    const created = await owner.api.${n.plural}.create({ organizationId, ...sample });
    expect(created).toMatchObject({ ...sample, organizationId, createdBy: owner.user.id });
    const ${n.idKey} = created.id;
    expect(await owner.api.${n.plural}.get({ organizationId, ${n.idKey} })).toEqual(created);

    const updated = await owner.api.${n.plural}.update({ organizationId, ${n.idKey}, ...changed });
    expect(updated).toMatchObject({ ...changed, id: ${n.idKey} });
    expect(await owner.api.${n.plural}.get({ organizationId, ${n.idKey} })).toEqual(updated);

    expect(await owner.api.${n.plural}.delete({ organizationId, ${n.idKey} })).toEqual({ deleted: true });
    expect(await codeOf(owner.api.${n.plural}.get({ organizationId, ${n.idKey} }))).toBe('NOT_FOUND');
    expect(await codeOf(owner.api.${n.plural}.delete({ organizationId, ${n.idKey} }))).toBe('NOT_FOUND');
    expect(await auditActions(${n.idKey})).toEqual([
      ['${n.singularSnake}.created', owner.user.id],
      ['${n.singularSnake}.deleted', owner.user.id],
      ['${n.singularSnake}.updated', owner.user.id],
    ]);
  });

  it('the list is newest first and pages with the cursor', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await owner.api.${n.plural}.create({ organizationId, ...sample })).id);
    const walked: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await owner.api.${n.plural}.list({ organizationId, limit: 2, cursor });
      walked.push(...page.${n.plural}.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect(walked.slice(0, 3)).toEqual([...made].reverse());
    expect(new Set(walked).size).toBe(walked.length);
    expect(await codeOf(owner.api.${n.plural}.list({ organizationId, cursor: 'forged' }))).toBe('BAD_REQUEST');
  });

  it("another organization's ${n.singular} is not found through this one, and stays as it was", async () => {
    const other = await signUp(deps);
    const theirOrganizationId = (await other.api.organizations.create({ name: 'Other Org' })).id;
    const theirs = await other.api.${n.plural}.create({ organizationId: theirOrganizationId, ...sample });
    const ${n.idKey} = theirs.id;
    expect(await codeOf(owner.api.${n.plural}.get({ organizationId, ${n.idKey} }))).toBe('NOT_FOUND');
    expect(await codeOf(owner.api.${n.plural}.update({ organizationId, ${n.idKey}, ...changed }))).toBe('NOT_FOUND');
    expect(await codeOf(owner.api.${n.plural}.delete({ organizationId, ${n.idKey} }))).toBe('NOT_FOUND');
    const listed = await owner.api.${n.plural}.list({ organizationId, limit: 100 });
    expect(listed.${n.plural}.map((r) => r.id)).not.toContain(${n.idKey});
    expect(await other.api.${n.plural}.get({ organizationId: theirOrganizationId, ${n.idKey} })).toEqual(theirs);
  });

  it('bad input is refused with 400 and a message naming the field', async () => {
    const { id: ${n.idKey} } = await owner.api.${n.plural}.create({ organizationId, ...sample });
    const nothing = await owner.api.${n.plural}.update({ organizationId, ${n.idKey} }).catch((e: Error & { code: string }) => e);
    expect(nothing).toMatchObject({ code: 'BAD_REQUEST' });
    expect((nothing as Error).message).toContain('at least one field');
${
  required.length
    ? `    const missing = owner.api.${n.plural}.create({ organizationId } as Parameters<typeof owner.api.${n.plural}.create>[0]);
    expect(await codeOf(missing)).toBe('BAD_REQUEST');
`
    : ''
}${
  stringField
    ? `    const tooLong = owner.api.${n.plural}.create({ organizationId, ...sample, ${stringField.name}: 'x'.repeat(201) });
    expect(await codeOf(tooLong)).toBe('BAD_REQUEST');
`
    : ''
}  });

  const ROLES: { role: OrgRole; reads: boolean; writes: boolean }[] = [
${roleCases}
  ];
  it.each(ROLES)('a $role reads: $reads, writes: $writes (read ${readRole}, write ${writeRole})', async ({ role, reads, writes }) => {
    const person = await addMember(deps, organizationId, role);
    const { id: ${n.idKey} } = await owner.api.${n.plural}.create({ organizationId, ...sample });
    const readCodes = [
      await codeOf(person.api.${n.plural}.list({ organizationId })),
      await codeOf(person.api.${n.plural}.get({ organizationId, ${n.idKey} })),
    ];
    expect(readCodes).toEqual(reads ? ['OK', 'OK'] : ['FORBIDDEN', 'FORBIDDEN']);
    const writeCodes = [
      await codeOf(person.api.${n.plural}.update({ organizationId, ${n.idKey}, ...changed })),
      await codeOf(person.api.${n.plural}.delete({ organizationId, ${n.idKey} })),
    ];
    expect(writeCodes).toEqual(writes ? ['OK', 'OK'] : ['FORBIDDEN', 'FORBIDDEN']);
    const before = await deps.db.select().from(${n.plural}).where(eq(${n.plural}.organizationId, organizationId));
    expect(await codeOf(person.api.${n.plural}.create({ organizationId, ...sample }))).toBe(writes ? 'OK' : 'FORBIDDEN');
    const after = await deps.db.select().from(${n.plural}).where(eq(${n.plural}.organizationId, organizationId));
    expect(after.length - before.length).toBe(writes ? 1 : 0);
  });

  it('a non-member is refused (403) and an anonymous caller asked to sign in (401)', async () => {
    const stranger = await signUp(deps);
    expect(await codeOf(stranger.api.${n.plural}.list({ organizationId }))).toBe('FORBIDDEN');
    expect(await codeOf(stranger.api.${n.plural}.create({ organizationId, ...sample }))).toBe('FORBIDDEN');
    expect(await codeOf(callerFor(deps).${n.plural}.list({ organizationId }))).toBe('UNAUTHORIZED');
  });
${
  task
    ? `
  it('the ${task} task starts for a ${n.singular} of the organization', async () => {
    const { id: ${n.idKey} } = await owner.api.${n.plural}.create({ organizationId, ...sample });
    const { taskId } = await owner.api.tasks.start({ organizationId, kind: '${task}', input: { ${n.idKey} } });
    const [row] = await deps.db.select().from(tasks).where(eq(tasks.id, taskId));
    expect(row).toMatchObject({ kind: '${task}', organizationId, status: 'queued', input: { ${n.idKey} } });
    const bad = owner.api.tasks.start({ organizationId, kind: '${task}', input: { ${n.idKey}: 'nope' } });
    expect(await codeOf(bad)).toBe('BAD_REQUEST');
  });
`
    : ''
}});
`;
}

export function matrixFile(spec: AreaSpec): string {
  const { names: n } = spec;
  return `${header(spec, `${n.Plural} in the tenant-isolation matrix: B's rows, each procedure's input, the snapshot`)}
import { ${n.plural} } from '@woopdi/db';
import { asc, eq } from 'drizzle-orm';
import type { AreaMatrix } from './index.js';

const sample = ${sampleObject(spec, 0)};
const changed = ${sampleObject(spec, 1)};

export const ${n.plural}Matrix: AreaMatrix = {
  async seed(owner, organizationId) {
    const row = await owner.${n.plural}.create({ organizationId, ...sample });
    return { ${n.idKey}: row.id };
  },
  entries: {
    '${n.plural}.create': { input: (b) => ({ organizationId: b.organizationId, ...sample }) },
    '${n.plural}.list': { input: (b) => ({ organizationId: b.organizationId }) },
    '${n.plural}.get': {
      input: (b) => ({ organizationId: b.organizationId, ${n.idKey}: b.${n.idKey} }),
      mixed: (b, a) => [{ organizationId: a.organizationId, ${n.idKey}: b.${n.idKey} }],
    },
    '${n.plural}.update': {
      input: (b) => ({ organizationId: b.organizationId, ${n.idKey}: b.${n.idKey}, ...changed }),
      mixed: (b, a) => [{ organizationId: a.organizationId, ${n.idKey}: b.${n.idKey}, ...changed }],
    },
    '${n.plural}.delete': {
      input: (b) => ({ organizationId: b.organizationId, ${n.idKey}: b.${n.idKey} }),
      mixed: (b, a) => [{ organizationId: a.organizationId, ${n.idKey}: b.${n.idKey} }],
    },
  },
  snapshot: (deps, organizationId) =>
    deps.db.select().from(${n.plural}).where(eq(${n.plural}.organizationId, organizationId)).orderBy(asc(${n.plural}.id)),
};
`;
}

export function restTestFile(spec: AreaSpec): string {
  const { names: n, writeRole } = spec;
  return `${header(spec, `${n.Plural} over real HTTP: the REST paths under /api, plain fetch`)}
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, leaksOf, PASSWORD, startTestServer, type TestServer, uniqueEmail } from './helpers.js';

const sample = ${sampleObject(spec, 0)};
const changed = ${sampleObject(spec, 1)};

let server: TestServer;
let token: string;
let organizationId: string;

beforeAll(async () => {
  server = await startTestServer();
  const signup = await call<{ tokens: { accessToken: string } }>(\`\${server.url}/api/auth/signup\`, {
    body: { email: uniqueEmail('${n.kebab}'), password: PASSWORD },
  });
  token = signup.body.tokens.accessToken;
  const org = await call<{ id: string }>(\`\${server.url}/api/organizations/create-organization\`, {
    token,
    body: { name: '${n.Plural} REST' },
  });
  organizationId = org.body.id;
});
afterAll(() => server.close());

const rest = <T = Record<string, unknown>>(path: string, init: Parameters<typeof call>[1] = {}) =>
  call<T>(\`\${server.url}/api/organizations/\${organizationId}/${n.kebab}\${path}\`, { token, ...init });

describe('${n.plural} over REST', () => {
  it('POST, GET, PATCH and DELETE /organizations/{organizationId}/${n.kebab}', async () => {
    const created = await rest<{ id: string }>('', { body: sample });
    expect(created.status, created.text).toBe(200);
    expect(created.body).toMatchObject(sample);
    const { id } = created.body;

    const listed = await rest<{ ${n.plural}: { id: string }[]; nextCursor: string | null }>('?limit=10');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.${n.plural}.map((r) => r.id)).toContain(id);

    const one = await rest(\`/\${id}\`);
    expect([one.status, one.body]).toEqual([200, created.body]);

    const patched = await rest(\`/\${id}\`, { method: 'PATCH', body: changed });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject(changed);

    const deleted = await rest(\`/\${id}\`, { method: 'DELETE' });
    expect([deleted.status, deleted.body]).toEqual([200, { deleted: true }]);
    expect((await rest(\`/\${id}\`)).status).toBe(404);
  });

  it('answers 400 for a bad body, 401 without a token, 404 for an unknown id, and never leaks', async () => {
    const { body } = await rest<{ id: string }>('', { body: sample });
    const empty = await rest(\`/\${body.id}\`, { method: 'PATCH', body: {} });
    expect(empty.status, empty.text).toBe(400);
    // The REST bridge answers "Input validation failed" with zod's issues, each with its message.
    expect(JSON.stringify(empty.body.issues)).toContain('at least one field');
    const anonymous = await rest('', { token: '' });
    expect(anonymous.status).toBe(401);
    const unknown = await rest('/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    const notAnId = await rest('/not-an-id');
    expect(notAnId.status).toBe(400);
    for (const res of [empty, anonymous, unknown, notAnId]) expect(leaksOf(res.text)).toEqual([]);
  });

  it('is documented in /openapi.json with its gate (${writeRole} to write)', async () => {
    const doc = await call<{ paths: Record<string, Record<string, { tags?: string[] }>> }>(\`\${server.url}/openapi.json\`);
    expect(Object.keys(doc.body.paths['/organizations/{organizationId}/${n.kebab}'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.body.paths['/organizations/{organizationId}/${n.kebab}/{${n.idKey}}'] ?? {}).sort()).toEqual([
      'delete',
      'get',
      'patch',
    ]);
  });
});
`;
}

export function kindFile(spec: AreaSpec & { task: string }): string {
  const { names: n, fields, task } = spec;
  const camel = task.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return `${header(spec, `The ${task} task kind: reads one ${n.singular} of the task's organization and reports it`)}
import { ${n.plural} } from '@woopdi/db';
import { and, eq } from 'drizzle-orm';
import { TaskFailed } from '../task-runtime.js';
import { defineKind } from './define.js';

export const ${camel} = defineKind('${task}', async ({ ${n.idKey} }, report, { db, organizationId }) => {
  const [row] = await db
    .select()
    .from(${n.plural})
    .where(and(eq(${n.plural}.organizationId, organizationId), eq(${n.plural}.id, ${n.idKey})))
    .limit(1);
  // Within the task's organization only; a retry cannot bring a deleted row back.
  if (!row) throw new TaskFailed('${n.Singular} not found in this organization (deleted since the task started?).');
  await report.progress({ current: 1, total: 1, message: '${n.Singular} read' });
  return {
    message: '${n.Singular} report ready',
    data: {
      ${n.idKey}: row.id,
${fields.map((f) => `      ${f.name}: ${fromRow(f, 'row')},`).join('\n')}
      updatedAt: row.updatedAt.toISOString(),
    },
  };
});
`;
}

export const kindExportName = (task: string) =>
  task.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** core's task kind: the input schema the api validates and the worker parses. */
export const kindEntry = (spec: AreaSpec & { task: string }) => `${spec.task}: {
  input: z.object({ ${spec.names.idKey}: uuid() }),
  maxAttempts: 3,
  summary: 'A report of one ${spec.names.singular} of the organization (pnpm new:area).',
  minRole: '${spec.readRole}',
  entitlement: null,
},`;

export function workerTestFile(spec: AreaSpec & { task: string }): string {
  const { names: n, task } = spec;
  return `${header(spec, `The ${task} task kind through the API and a real graphile-worker`)}
import { createTestDeps, type TestDeps } from '@woopdi/api/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerHandle } from '../src/index.js';
import { orgWithAdmin, storedEvents, waitForStatus } from './task-helpers.js';

const sample = ${sampleObject(spec, 0)};

let deps: TestDeps;
let worker: WorkerHandle;

beforeAll(async () => {
  deps = await createTestDeps();
  worker = await startWorker({ ...deps, pollInterval: 100 });
});
afterAll(async () => {
  await worker.stop();
  await deps.close();
});

describe('${task}', () => {
  it('reports a ${n.singular} of the organization: task_start, progress, task_end, the fields as its result', async () => {
    const { api, org } = await orgWithAdmin(deps, '${n.Plural} Report Co');
    const row = await api.${n.plural}.create({ organizationId: org.id, ...sample });
    const { taskId } = await api.tasks.start({ organizationId: org.id, kind: '${task}', input: { ${n.idKey}: row.id } });
    const task = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect(task.status, task.error ?? '').toBe('succeeded');
    expect(task.result).toMatchObject({ ${n.idKey}: row.id, ...sample });
    expect((await storedEvents(deps, taskId)).map((e) => e.type)).toEqual(['task_start', 'progress', 'task_end']);
  });

  it('fails at once, without retrying, when the ${n.singular} is gone', async () => {
    const { api, org } = await orgWithAdmin(deps, '${n.Plural} Gone Co');
    const row = await api.${n.plural}.create({ organizationId: org.id, ...sample });
    await api.${n.plural}.delete({ organizationId: org.id, ${n.idKey}: row.id });
    const { taskId } = await api.tasks.start({ organizationId: org.id, kind: '${task}', input: { ${n.idKey}: row.id } });
    const task = await waitForStatus(deps, taskId, ['succeeded', 'failed']);
    expect([task.status, task.error]).toEqual(['failed', expect.stringContaining('not found')]);
  });
});
`;
}
