// `pnpm new:area` end to end, in a temporary copy of the repository: this checkout's files (tracked
// and untracked, without node_modules) with each node_modules rebuilt of links to the installed
// packages, except the workspace's own @woopdi/* which point into the copy. There the example of
// issue #19 is generated, then lint, db:check, the typecheck of everything the area touches and the
// generated tests (with the tenant-isolation matrix) must pass; a rerun, names that collide and
// --dry-run must write nothing. Nothing generated ever reaches this checkout.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = [
  'projects',
  'name:string',
  'budgetCents:int',
  'archived:boolean',
  '--task',
  'project_report',
];
const PROCEDURES = ['create', 'list', 'get', 'update', 'delete'].map((p) => `projects.${p}`);

let copy: string;

/** The environment of a command in the copy: this one's, without the parent vitest's markers. */
const childEnv = (): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST'))),
  NO_COLOR: '1',
  FORCE_COLOR: '0',
});

interface Run {
  code: number;
  out: string;
}
/** How long each step took (printed, never asserted: the machine may be shared). */
const timings: string[] = [];
function run(cwd: string, command: string, args: string[]): Promise<Run> {
  const started = Date.now();
  const what = [command.split('/').pop(), ...args.slice(0, 3)].join(' ');
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), maxBuffer: 32 * 1024 * 1024, timeout: 500_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        timings.push(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}
const pnpm = (cwd: string, ...args: string[]) => run(cwd, 'npx', ['-y', 'pnpm@12.4.2', ...args]);
/** What `pnpm new:area` runs, without pnpm's start-up: for the checks around the real run. */
const newArea = (...args: string[]) => run(copy, 'node_modules/.bin/tsx', ['scripts/new-area.ts', ...args]);
const git = (...args: string[]) =>
  run(copy, 'git', ['-c', 'user.name=scaffold', '-c', 'user.email=s@example.com', ...args]);
const status = async () => (await git('status', '--porcelain', '--untracked-files=all')).out;

/** `to` as a directory of links to `from`'s entries; @woopdi/<name> links into the copy instead. */
function linkModules(from: string, to: string) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    // vite's caches and pnpm's task state: the copy keeps its own (pnpm refuses a linked one).
    if (entry.startsWith('.vite') || entry.startsWith('.pnpm-task')) continue;
    if (entry === '@woopdi') {
      mkdirSync(join(to, entry));
      for (const name of readdirSync(join(from, entry)))
        symlinkSync(join(copy, 'packages', name), join(to, entry, name));
    } else symlinkSync(join(from, entry), join(to, entry));
  }
}

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), 'woopdi-scaffold-'));
  const files = (await run(REPO, 'git', ['ls-files', '-co', '--exclude-standard', '-z'])).out
    .split('\0')
    .filter((f) => f && existsSync(join(REPO, f)));
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(REPO, file), join(copy, file));
  }
  linkModules(join(REPO, 'node_modules'), join(copy, 'node_modules'));
  for (const pkg of readdirSync(join(REPO, 'packages'))) {
    const modules = join(REPO, 'packages', pkg, 'node_modules');
    if (existsSync(modules)) linkModules(modules, join(copy, 'packages', pkg, 'node_modules'));
  }
  // A repository of its own, so `git status` shows what the generator wrote (and Biome reads .gitignore).
  await git('init', '-q');
  await git('add', '-A');
  expect((await git('commit', '-qm', 'copy')).code).toBe(0);
}, 60_000);
afterAll(() => {
  console.log(`scaffold steps:\n  ${timings.join('\n  ')}`);
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe('pnpm new:area', () => {
  it('--dry-run lists the files and writes nothing', async () => {
    const dry = await newArea(...EXAMPLE, '--dry-run');
    expect(dry.code, dry.out).toBe(0);
    for (const file of [
      'create packages/db/src/schema/projects.ts',
      'create packages/api/src/services/projects.ts',
      'create packages/api/src/routers/projects.ts',
      'edit   packages/api/src/root.ts',
      'create packages/worker/src/kinds/project-report.ts',
      'edit   packages/core/src/tasks.ts',
    ])
      expect(dry.out).toContain(file);
    expect(dry.out).toContain('Dry run: nothing was written.');
    expect(await status()).toBe('');
  });

  it('refuses names that collide with an area, a table or a task kind, and bad fields, writing nothing', async () => {
    const refusals: [string[], string][] = [
      [['assets', 'name:string'], 'would overwrite a hand-written area'],
      [['subscriptions', 'name:string'], 'The table "subscriptions" already exists'],
      [['widgets', 'name:string', '--task', 'org_export'], 'The task kind "org_export" already exists'],
      [['widget', 'name:string'], 'name the area in the plural'],
      [['widgets', 'organizationId:uuid'], 'every area already has'],
      [['widgets', 'size:float'], 'unknown type "float"'],
      [['widgets', 'name:string', '--write-role', 'MEMBER', '--read-role', 'ADMIN'], 'whoever writes must'],
    ];
    const answers = await Promise.all(refusals.map(([args]) => newArea(...args)));
    for (const [i, [args, message]] of refusals.entries()) {
      expect([answers[i]!.code, answers[i]!.out], args.join(' ')).toEqual([
        1,
        expect.stringContaining(message),
      ]);
    }
    expect(await status()).toBe('');
  });

  it('writes the example area, which passes lint, db:check, typecheck and its tests; a rerun is refused', async () => {
    const generated = await pnpm(copy, 'new:area', ...EXAMPLE);
    console.log(`pnpm new:area ${EXAMPLE.join(' ')}\n${generated.out}`);
    expect(generated.code, generated.out).toBe(0);
    expect(generated.out).toMatch(/wrote drizzle\/\d{4}_projects\.sql/);
    const written = await status();
    const rerun = await newArea(...EXAMPLE);
    expect(rerun.code).not.toBe(0);
    expect(rerun.out).toContain('The area "projects" was already generated');
    expect(await status()).toBe(written);
    // No placeholders left for someone to find later.
    for (const line of written.split('\n').filter(Boolean)) {
      const file = join(copy, line.slice(3));
      if (file.endsWith('.ts')) expect(readFileSync(file, 'utf8'), file).not.toMatch(/TODO|FIXME|XXX/);
    }

    const lint = await run(copy, 'node_modules/.bin/biome', ['check', '.']);
    expect(lint.code, lint.out).toBe(0);
    const dbCheck = await pnpm(copy, 'db:check');
    expect(dbCheck.code, dbCheck.out).toBe(0);
    expect(dbCheck.out).toContain('schema and migrations agree');

    // One program over everything the area touches (api with its tests, worker, the REST test and
    // the server it starts; db and core come in through their sources): one tsc instead of five.
    writeFileSync(
      join(copy, 'tsconfig.scaffold.json'),
      JSON.stringify({
        extends: './tsconfig.base.json',
        compilerOptions: { noEmit: true },
        include: [
          'packages/api/src',
          'packages/api/test/projects.test.ts',
          'packages/api/test/tenant-isolation.test.ts',
          'packages/worker/src',
          'packages/worker/test/project-report.test.ts',
          'packages/server/test/projects-rest.test.ts',
        ],
      }),
    );
    // Two lanes for two cores: the typecheck then the worker's test, beside the api's and server's tests.
    const [[typecheck, workerTests], [apiTests, restTests]] = await Promise.all([
      (async () => [
        await run(copy, 'node_modules/.bin/tsc', ['-p', 'tsconfig.scaffold.json']),
        await run(join(copy, 'packages/worker'), 'node_modules/.bin/vitest', [
          'run',
          'test/project-report.test.ts',
        ]),
      ])(),
      (async () => [
        await run(join(copy, 'packages/api'), 'node_modules/.bin/vitest', [
          'run',
          'test/projects.test.ts',
          'test/tenant-isolation.test.ts',
        ]),
        await run(join(copy, 'packages/server'), 'node_modules/.bin/vitest', [
          'run',
          'test/projects-rest.test.ts',
        ]),
      ])(),
    ]);
    expect(typecheck.code, typecheck.out).toBe(0);
    expect(apiTests.code, apiTests.out).toBe(0);
    expect(apiTests.out).toMatch(/Test Files\s+\S*2 passed/);
    expect(restTests.code, restTests.out).toBe(0);
    expect(workerTests.code, workerTests.out).toBe(0);
    // The tenant-isolation matrix enumerated the new procedures from the router and attacked each.
    const enumerated =
      /tenant isolation: \d+ org-scoped queries\/mutations enumerated from appRouter \(([^)]*)\)/.exec(
        apiTests.out,
      );
    expect(enumerated, apiTests.out).not.toBeNull();
    for (const procedure of PROCEDURES) expect(enumerated![1]!.split(', ')).toContain(procedure);
  }, 600_000);
});
