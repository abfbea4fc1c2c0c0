// `pnpm new:area <name> [field:type ...] [--read-role R] [--write-role R] [--task <kind>] [--dry-run]`
// writes an organization-scoped area in the house layout: Drizzle schema and its migration, service,
// router with its REST paths, registration in root.ts, the tests, the tenant-isolation rows, and
// optionally a task kind with its worker handler. See packages/api/docs/new-area.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { OrgRole } from '@woopdi/db';
import { addImport, appendToLiteral, appendToUnion } from './new-area/source-edit.js';
import {
  type AreaSpec,
  apiTestFile,
  FIELD_TYPES,
  type Field,
  type FieldType,
  kindEntry,
  kindExportName,
  kindFile,
  matrixFile,
  type Names,
  restTestFile,
  routerFile,
  schemaFile,
  serviceFile,
  workerTestFile,
} from './new-area/templates.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROLES: OrgRole[] = ['MEMBER', 'MODERATOR', 'ADMIN'];
/** Columns every area has: a field may not take their names. */
const RESERVED = new Set(['id', 'organizationId', 'createdBy', 'createdAt', 'updatedAt', 'cursor', 'limit']);

class UsageError extends Error {}
const fail = (message: string): never => {
  throw new UsageError(message);
};

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const kebab = (camel: string) => camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `projects` / `budget-items` / `budgetItems` → the names of every layer (plural, as the areas are). */
function namesOf(raw: string, singularFlag?: string): Names {
  const plural = raw.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  if (!/^[a-z][a-zA-Z0-9]{1,39}$/.test(plural))
    fail(
      `"${raw}" is not a valid area name: use 2–40 letters and digits, starting with a lower-case letter, in the plural (projects, budgetItems or budget-items).`,
    );
  if (singularFlag !== undefined && !/^[a-z][a-zA-Z0-9]{0,38}$/.test(singularFlag))
    fail(`--singular ${singularFlag}: a camelCase identifier, e.g. --singular status.`);
  if (singularFlag === plural) fail(`--singular ${singularFlag}: the singular must differ from the plural.`);
  // English plurals are irregular: the rules below cover the common ones, --singular the rest.
  const singular = singularFlag
    ? singularFlag
    : plural.endsWith('ies')
      ? `${plural.slice(0, -3)}y`
      : /(ss|us|is)$/.test(plural) || !plural.endsWith('s')
        ? fail(
            `"${raw}": name the area in the plural, like the existing ones (assets, tasks, invitations): e.g. ${plural}s (or give its singular with --singular).`,
          )
        : /(ches|shes|xes|sses)$/.test(plural)
          ? plural.slice(0, -2)
          : plural.slice(0, -1);
  return {
    plural,
    Plural: cap(plural),
    singular,
    Singular: cap(singular),
    kebab: kebab(plural),
    snake: snake(plural),
    singularSnake: snake(singular),
    idKey: `${singular}Id`,
  };
}

function fieldsOf(specs: string[]): Field[] {
  if (specs.length === 0)
    fail('Give the area at least one field, as name:type (e.g. name:string budgetCents:int).');
  if (specs.length > 40) fail('At most 40 fields per area.');
  const seen = new Set<string>();
  return specs.map((spec) => {
    const [name, type, extra] = spec.split(':');
    if (!name || !type || extra !== undefined)
      fail(`"${spec}": write each field as name:type, e.g. budgetCents:int.`);
    if (!/^[a-z][a-zA-Z0-9]{0,39}$/.test(name!))
      fail(
        `"${name}": a field name is camelCase letters and digits starting with a lower-case letter (it becomes ${'snake_case'} in SQL).`,
      );
    if (RESERVED.has(name!)) fail(`"${name}": every area already has ${[...RESERVED].join(', ')}.`);
    if (seen.has(name!)) fail(`"${name}" is given twice.`);
    seen.add(name!);
    if (!(FIELD_TYPES as readonly string[]).includes(type!))
      fail(`"${spec}": unknown type "${type}". Types: ${FIELD_TYPES.join(', ')}.`);
    return { name: name!, column: snake(name!), type: type as FieldType };
  });
}

function roleOf(flag: string, value: string | undefined, fallback: OrgRole): OrgRole {
  if (value === undefined) return fallback;
  if (!ROLES.includes(value as OrgRole)) fail(`--${flag} ${value}: use one of ${ROLES.join(', ')}.`);
  return value as OrgRole;
}

interface Change {
  path: string;
  /** The whole new content of the file. */
  content: string;
  created: boolean;
  summary: string;
}

const FILES = {
  schema: (n: Names) => `packages/db/src/schema/${n.kebab}.ts`,
  service: (n: Names) => `packages/api/src/services/${n.kebab}.ts`,
  router: (n: Names) => `packages/api/src/routers/${n.kebab}.ts`,
  apiTest: (n: Names) => `packages/api/test/${n.kebab}.test.ts`,
  matrix: (n: Names) => `packages/api/test/tenant-areas/${n.kebab}.ts`,
  restTest: (n: Names) => `packages/server/test/${n.kebab}-rest.test.ts`,
  kind: (task: string) => `packages/worker/src/kinds/${task.replace(/_/g, '-')}.ts`,
  kindTest: (task: string) => `packages/worker/test/${task.replace(/_/g, '-')}.test.ts`,
};

const REGISTRY = {
  schemaIndex: 'packages/db/src/schema/index.ts',
  root: 'packages/api/src/root.ts',
  audit: 'packages/api/src/services/audit.ts',
  matrices: 'packages/api/test/tenant-areas/index.ts',
  coreTasks: 'packages/core/src/tasks.ts',
  workerKinds: 'packages/worker/src/kinds/index.ts',
  fixtures: 'packages/api/test/fixtures.ts',
};

/** Refuses names that the house already uses: procedures, tables, REST paths, task kinds. */
function checkCollisions(spec: AreaSpec) {
  const n = spec.names;
  // A rerun: the generator's own files are there.
  const own = [FILES.router(n), FILES.service(n), FILES.schema(n)].filter((p) => existsSync(join(ROOT, p)));
  if (own.some((p) => read(p).includes('pnpm new:area')))
    fail(
      `The area "${n.plural}" was already generated (${own.join(', ')} exist${own.length === 1 ? 's' : ''}). ` +
        'Nothing was written. Edit those files to change the area; to generate it again, first delete the files it created and revert its registry lines (`git status` lists both).',
    );
  for (const p of own)
    fail(`${p} already exists: "${n.plural}" would overwrite a hand-written area. Choose another name.`);

  const root = read(REGISTRY.root);
  const routerBody = root.slice(root.indexOf('export const appRouter'));
  if (new RegExp(`^\\s*${n.plural}\\s*[:,]`, 'm').test(routerBody))
    fail(`The router already has "${n.plural}" (packages/api/src/root.ts): its procedures would collide.`);

  const routers = readdirSync(join(ROOT, 'packages/api/src/routers')).map((f) =>
    read(`packages/api/src/routers/${f}`),
  );
  const base = `/organizations/{organizationId}/${n.kebab}`;
  for (const [i, text] of routers.entries()) {
    if (text.includes(`'${base}'`) || text.includes(`'${base}/`))
      fail(
        `The REST path ${base} is taken (packages/api/src/routers/${readdirSync(join(ROOT, 'packages/api/src/routers'))[i]}).`,
      );
    // A nested router (organizations.secrets) is mounted inside another: its name is its key there.
    if (new RegExp(`\\b${n.plural}:\\s*\\w+Router\\b`).test(text))
      fail(`"${n.plural}" is already a nested router key (e.g. organizations.${n.plural}).`);
  }

  const schemaDir = 'packages/db/src/schema';
  for (const f of readdirSync(join(ROOT, schemaDir))) {
    const text = read(`${schemaDir}/${f}`);
    if (text.includes(`pgTable(\n  '${n.snake}'`) || text.includes(`pgTable('${n.snake}'`))
      fail(`The table "${n.snake}" already exists (${schemaDir}/${f}).`);
    if (new RegExp(`export const ${n.plural}\\b`).test(text))
      fail(`@woopdi/db already exports "${n.plural}" (${schemaDir}/${f}).`);
  }
  if (read(REGISTRY.audit).includes(`'${n.singularSnake}.`))
    fail(`Audit actions "${n.singularSnake}.*" already exist (packages/api/src/services/audit.ts).`);

  if (spec.task) {
    if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(spec.task) || spec.task.length > 40)
      fail(`--task ${spec.task}: a task kind is snake_case (e.g. project_report), at most 40 characters.`);
    if (new RegExp(`^\\s*${spec.task}:`, 'm').test(read(REGISTRY.coreTasks)))
      fail(`The task kind "${spec.task}" already exists (packages/core/src/tasks.ts).`);
    for (const file of [FILES.kind(spec.task), FILES.kindTest(spec.task)])
      if (existsSync(join(ROOT, file))) fail(`${file} already exists: choose another task kind name.`);
  }
}

function plan(spec: AreaSpec): Change[] {
  const n = spec.names;
  const changes: Change[] = [];
  const create = (path: string, content: string, summary: string) =>
    changes.push({ path, content, created: true, summary });
  const edit = (path: string, change: (text: string) => string, summary: string) => {
    const prior = changes.find((c) => c.path === path);
    const content = change(prior ? prior.content : read(path));
    if (prior) {
      prior.content = content;
      prior.summary += `; ${summary}`;
    } else changes.push({ path, content, created: false, summary });
  };

  create(
    FILES.schema(n),
    schemaFile(spec),
    `table ${n.snake}: organization_id, created_by, ${spec.fields.map((f) => `${f.column} (${f.type})`).join(', ')}, timestamps; index (organization_id, created_at, id)`,
  );
  edit(
    REGISTRY.schemaIndex,
    (t) => addImport(t, `export * from './${n.kebab}.js';`),
    `export ./${n.kebab}.js`,
  );
  create(
    FILES.service(n),
    serviceFile(spec),
    `create/get/list (keyset)/update/delete${n.Singular}, audit ${n.singularSnake}.created|updated|deleted in the change's transaction`,
  );
  edit(
    REGISTRY.audit,
    (t) =>
      appendToUnion(
        t,
        'AuditAction',
        ['created', 'updated', 'deleted'].map((a) => `'${n.singularSnake}.${a}'`),
        REGISTRY.audit,
      ),
    `AuditAction += ${n.singularSnake}.created|updated|deleted`,
  );
  create(
    FILES.router(n),
    routerFile(spec),
    `${n.plural}.create|update|delete (orgProcedure ${spec.writeRole}), list|get (${spec.readRole}); POST/GET /organizations/{organizationId}/${n.kebab}, GET/PATCH/DELETE …/${n.kebab}/{${n.idKey}}`,
  );
  edit(
    REGISTRY.root,
    (t) =>
      appendToLiteral(
        addImport(t, `import { ${n.plural}Router } from './routers/${n.kebab}.js';`),
        'export const appRouter = router({',
        `${n.plural}: ${n.plural}Router,`,
        REGISTRY.root,
      ),
    `appRouter.${n.plural}`,
  );
  create(
    FILES.apiTest(n),
    apiTestFile(spec),
    'rules through the router: CRUD + audit, keyset pages, another organization 404, 400s, the role table',
  );
  create(
    FILES.matrix(n),
    matrixFile(spec),
    "tenant-isolation rows: B's row, each procedure's input, snapshot",
  );
  edit(
    REGISTRY.matrices,
    (t) =>
      appendToLiteral(
        addImport(t, `import { ${n.plural}Matrix } from './${n.kebab}.js';`),
        'export const AREA_MATRICES: Record<string, AreaMatrix> = {',
        `${n.plural}: ${n.plural}Matrix,`,
        REGISTRY.matrices,
      ),
    `AREA_MATRICES.${n.plural}`,
  );
  create(
    FILES.restTest(n),
    restTestFile(spec),
    'REST wiring over real HTTP: CRUD, 400/401/404, /openapi.json',
  );

  if (spec.task) {
    const task = spec.task;
    const withTask = { ...spec, task };
    edit(
      REGISTRY.coreTasks,
      (t) => {
        const withUuid = /import \{[^}]*\buuid\b[^}]*\} from '\.\/ids\.js';/.test(t)
          ? t
          : addImport(t, "import { uuid } from './ids.js';");
        const kinds = appendToLiteral(
          withUuid,
          'export const taskKinds = {',
          kindEntry(withTask),
          REGISTRY.coreTasks,
        );
        return appendToLiteral(
          kinds,
          "export const taskStartSchema = z.discriminatedUnion('kind', [",
          `z.object({ kind: z.literal('${task}'), input: taskKinds.${task}.input }),`,
          REGISTRY.coreTasks,
        );
      },
      `task kind ${task} (input { ${n.idKey} }, minRole ${spec.readRole}) in taskKinds and taskStartSchema`,
    );
    create(
      FILES.kind(task),
      kindFile(withTask),
      `worker handler: reads the ${n.singular}, reports, returns its fields`,
    );
    create(
      FILES.kindTest(task),
      workerTestFile(withTask),
      'the kind through the API and a real worker: its events and result; a missing row fails without retry',
    );
    edit(
      REGISTRY.workerKinds,
      (t) =>
        appendToLiteral(
          addImport(t, `import { ${kindExportName(task)} } from './${task.replace(/_/g, '-')}.js';`),
          'export const kindDefinitions: { readonly [K in TaskKind]: KindDefinition<K> } = {',
          `${task}: ${kindExportName(task)},`,
          REGISTRY.workerKinds,
        ),
      `kindDefinitions.${task}`,
    );
    edit(
      REGISTRY.fixtures,
      (t) =>
        appendToLiteral(
          t,
          'export const SAMPLE_TASK_INPUT: { [K in TaskKind]: Record<string, unknown> } = {',
          `${task}: { ${n.idKey}: '00000000-0000-4000-8000-000000000001' },`,
          REGISTRY.fixtures,
        ),
      `SAMPLE_TASK_INPUT.${task} (role and tenancy matrices start every kind)`,
    );
  }
  return changes;
}

function bin(pkgDir: string, name: string) {
  for (const dir of [pkgDir, ROOT]) {
    const p = join(dir, 'node_modules/.bin', name);
    if (existsSync(p)) return p;
  }
  return fail(`${name} is not installed: run \`npx -y pnpm@12.4.2 install\` first.`);
}

function main(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'read-role': { type: 'string' },
      'write-role': { type: 'string' },
      task: { type: 'string' },
      singular: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [rawName, ...fieldSpecs] = positionals;
  if (values.help || !rawName) {
    console.log(
      `Usage: pnpm new:area <name> [field:type ...] [--read-role MEMBER] [--write-role MODERATOR] [--task <kind>] [--singular <name>] [--dry-run]\n` +
        `  name: the area in the plural (projects, budget-items; --singular for irregular plurals); types: ${FIELD_TYPES.join(', ')}\n` +
        '  e.g. pnpm new:area projects name:string budgetCents:int archived:boolean --task project_report\n' +
        '  Guide: packages/api/docs/new-area.md',
    );
    return values.help ? 0 : 1;
  }
  const spec: AreaSpec = {
    names: namesOf(rawName, values.singular),
    fields: fieldsOf(fieldSpecs),
    readRole: roleOf('read-role', values['read-role'], 'MEMBER'),
    writeRole: roleOf('write-role', values['write-role'], 'MODERATOR'),
    ...(values.task ? { task: values.task } : {}),
    command: `pnpm new:area ${argv.filter((a) => a !== '--dry-run').join(' ')}`,
  };
  if (ROLES.indexOf(spec.writeRole) < ROLES.indexOf(spec.readRole))
    fail(
      `--write-role ${spec.writeRole} is below --read-role ${spec.readRole}: whoever writes must be able to read.`,
    );
  checkCollisions(spec);
  const changes = plan(spec);

  const n = spec.names;
  const migration = `drizzle/NNNN_${n.snake}.sql (drizzle-kit generate --name ${n.snake})`;
  console.log(
    `new:area ${n.plural} (${n.singular}, table ${n.snake}, REST /organizations/{organizationId}/${n.kebab}, read ${spec.readRole}, write ${spec.writeRole}${spec.task ? `, task ${spec.task}` : ''})`,
  );
  for (const c of changes) {
    const lines = c.content.split('\n').length;
    console.log(
      `  ${c.created ? 'create' : 'edit  '} ${c.path}${c.created ? ` (${lines} lines)` : ''}: ${c.summary}`,
    );
  }
  console.log(`  create ${migration}`);
  if (values['dry-run']) {
    console.log('Dry run: nothing was written.');
    return 0;
  }

  for (const c of changes) writeFileSync(join(ROOT, c.path), c.content);
  const paths = changes.map((c) => c.path);
  // Formats the new files and orders the imports the edits added (Biome's safe fixes only).
  execFileSync(bin(ROOT, 'biome'), ['check', '--write', ...paths], { cwd: ROOT, stdio: 'inherit' });
  const out = execFileSync(bin(join(ROOT, 'packages/db'), 'drizzle-kit'), ['generate', `--name=${n.snake}`], {
    cwd: join(ROOT, 'packages/db'),
    encoding: 'utf8',
  });
  const written = /drizzle\/(\d{4}_\S+\.sql)/.exec(out)?.[1];
  console.log(`  wrote drizzle/${written ?? `…_${n.snake}.sql`}`);
  console.log(
    [
      '',
      'Next:',
      `  npx -y pnpm@12.4.2 lint && npx -y pnpm@12.4.2 db:check`,
      `  (cd packages/api && npx vitest run test/${n.kebab}.test.ts test/tenant-isolation.test.ts)`,
      `  (cd packages/server && npx vitest run test/${n.kebab}-rest.test.ts)`,
      ...(spec.task
        ? [`  (cd packages/worker && npx vitest run test/${spec.task.replace(/_/g, '-')}.test.ts)`]
        : []),
      '  Then write the rules of your area in the service (guide: packages/api/docs/new-area.md).',
    ].join('\n'),
  );
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`new:area: ${error.message}`);
  process.exitCode = 1;
}
