// The SDK as a front-end developer outside this repository gets it: `pnpm pack`, the tarball
// installed with npm into a fresh project (TypeScript and Vite pinned, create-vite's strict tsconfig
// plus exactOptionalPropertyTypes and noUncheckedIndexedAccess), checked by tsc and bundled by Vite.
// The project lives in the OS temp directory, outside the workspace, so nothing resolves through the
// monorepo's node_modules; it is kept between runs (keyed by this checkout) to reuse its install.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../scripts/router-declarations.js';

const run = promisify(execFile);
const sdkDir = fileURLToPath(new URL('..', import.meta.url));
const checkout = createHash('sha256').update(sdkDir).digest('hex').slice(0, 10);
const consumer = join(tmpdir(), `woopdi-sdk-consumer-${checkout}`);
const TYPESCRIPT = '5.9.3';
const VITE = '8.3.8';

/** The child's environment without what pnpm/npm put there for the workspace's own scripts. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^(npm_|pnpm_|PNPM_|NODE_OPTIONS$|VITEST|TS_NODE)/i.test(key),
  ),
);

async function sh(cmd: string, args: string[], cwd: string) {
  try {
    return await run(cmd, args, { cwd, env: cleanEnv, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** tsc's diagnostics as `{ file, line, code }`; tsc exits non-zero when there are any. */
async function tsc(args: string[]) {
  const result = await run(process.execPath, ['node_modules/typescript/bin/tsc', ...args], {
    cwd: consumer,
    env: cleanEnv,
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    (r) => ({ ...r, exitCode: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      exitCode: e.code,
    }),
  );
  const diagnostics = [...result.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)].map((m) => ({
    file: m[1] ?? '',
    line: Number(m[2]),
    code: m[3] ?? '',
    message: m[4] ?? '',
  }));
  return { ...result, diagnostics };
}

// create-vite's vanilla-ts tsconfig (erasableSyntaxOnly, verbatimModuleSyntax, bundler resolution),
// with strict and the two options the issue names on top.
const tsconfig = {
  compilerOptions: {
    target: 'es2023',
    module: 'esnext',
    lib: ['ES2023', 'DOM'],
    types: ['vite/client'],
    allowArbitraryExtensions: true,
    skipLibCheck: true,
    moduleResolution: 'bundler',
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    moduleDetection: 'force',
    noEmit: true,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    erasableSyntaxOnly: true,
    noFallthroughCasesInSwitch: true,
    noUncheckedSideEffectImports: true,
  },
  include: ['src'],
};

// A page that signs in, starts a task and follows it: what a Woopdi front end does first.
const main = `import {
  createWoopdiClient,
  isTerminalTaskEvent,
  isTRPCClientError,
  type RouterInputs,
  type RouterOutputs,
  type TaskEvent,
  type WoopdiTokens,
} from '@woopdi/sdk';

type Me = RouterOutputs['users']['me'];
type Started = RouterOutputs['tasks']['start'];

const saved = localStorage.getItem('woopdi.tokens');
const woopdi = createWoopdiClient({
  url: location.origin,
  tokens: saved ? (JSON.parse(saved) as WoopdiTokens) : null,
  onTokensChange: (tokens) =>
    tokens ? localStorage.setItem('woopdi.tokens', JSON.stringify(tokens)) : localStorage.removeItem('woopdi.tokens'),
});

function line(event: TaskEvent): string {
  const percent = event.progress === undefined ? '' : \` \${Math.round(event.progress * 100)}%\`;
  return \`#\${event.seq} \${event.type}\${percent}: \${event.message}\`;
}

function greet(me: Me): string {
  return \`Signed in as \${me.name ?? me.email}\`;
}

async function start(organizationId: string): Promise<Started> {
  const input: RouterInputs['tasks']['start'] = {
    organizationId,
    kind: 'example_streaming',
    input: { steps: 3, intervalMs: 100 },
  };
  return woopdi.api.tasks.start.mutate(input);
}

const out = document.querySelector<HTMLPreElement>('#out');
const print = (text: string) => {
  if (out) out.textContent += \`\${text}\\n\`;
};

document.querySelector('form')?.addEventListener('submit', async (submit) => {
  submit.preventDefault();
  const form = new FormData(submit.target as HTMLFormElement);
  try {
    const first = await woopdi.login(String(form.get('email')), String(form.get('password')));
    // With two-factor on, the sign-in needs a code from the authenticator app.
    const { user } = first.twoFactorRequired
      ? await woopdi.verifyTwoFactor(first.challengeToken, prompt('Code from your authenticator app') ?? '')
      : first;
    print(greet(await woopdi.api.users.me.query()));
    const organizationId = user.lastActiveOrganizationId;
    if (!organizationId) return print('No organization yet.');
    const { taskId } = await start(organizationId);
    const follow = woopdi.tasks.follow(taskId, {
      lastEventId: sessionStorage.getItem(taskId) ?? undefined,
      onEvent: (event) => {
        sessionStorage.setItem(taskId, String(event.seq));
        print(line(event));
      },
      onComplete: (terminal) => print(terminal && isTerminalTaskEvent(terminal) ? 'done' : 'nothing left'),
      onError: (error) => print(isTRPCClientError(error) ? \`\${error.data?.code}: \${error.message}\` : String(error)),
    });
    addEventListener('pagehide', () => follow.unsubscribe());
  } catch (error) {
    print(isTRPCClientError(error) ? error.message : String(error));
  }
});
`;

// Three misuses the types must catch, each on the line that names its error code.
const misuse = `import { createWoopdiClient, type RouterOutputs, type TaskEvent } from '@woopdi/sdk';

const woopdi = createWoopdiClient({ url: 'https://api.example.com' });

export async function misuse(event: TaskEvent): Promise<string> {
  await woopdi.api.organizations.create.mutate({ name: 42 }); // expect TS2322
  const me: RouterOutputs['users']['me'] = await woopdi.api.users.me.query();
  const seq: string = event.seq; // expect TS2322
  return me.emailAddress + seq; // expect TS2339
}
`;

const html = `<!doctype html>
<html lang="en">
  <head><meta charset="UTF-8" /><title>Woopdi consumer</title></head>
  <body>
    <form><input name="email" /><input name="password" type="password" /><button>Sign in</button></form>
    <pre id="out"></pre>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`;

let tarball: { name: string; bytes: number; files: string[] };

beforeAll(async () => {
  // Outside the workspace: no node_modules above the project may supply a package.
  for (let dir = dirname(consumer); dir !== dirname(dir); dir = dirname(dir)) {
    expect(existsSync(join(dir, 'node_modules')), `${dir}/node_modules would leak into the consumer`).toBe(
      false,
    );
  }
  const packDir = join(consumer, 'pack');
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(join(consumer, 'src'), { recursive: true });

  // `prepack` builds dist/ (tsc, then the generated router declarations).
  await sh('npx', ['-y', 'pnpm@12.4.2', 'pack', '--pack-destination', packDir], sdkDir);
  const [packed] = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  if (!packed) throw new Error(`pnpm pack wrote no tarball to ${packDir}`);
  // A name that changes with the content, so npm's lockfile never holds a stale integrity for it.
  const bytes = readFileSync(join(packDir, packed));
  const name = `woopdi-sdk-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}.tgz`;
  writeFileSync(join(packDir, name), bytes);
  rmSync(join(packDir, packed));
  const listing = await sh('tar', ['-tzf', join(packDir, name)], consumer);
  tarball = { name, bytes: bytes.length, files: listing.stdout.split('\n').filter(Boolean) };

  writeFileSync(
    join(consumer, 'package.json'),
    `${JSON.stringify({ name: 'woopdi-sdk-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(join(consumer, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  writeFileSync(join(consumer, 'index.html'), html);
  writeFileSync(join(consumer, 'src/main.ts'), main);
  writeFileSync(join(consumer, 'src/misuse.ts'), misuse);
  rmSync(join(consumer, 'node_modules/@woopdi'), { recursive: true, force: true });
  rmSync(join(consumer, 'dist'), { recursive: true, force: true });
  await sh(
    'npm',
    [
      'install',
      `./pack/${name}`,
      `typescript@${TYPESCRIPT}`,
      `vite@${VITE}`,
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--save-exact',
    ],
    consumer,
  );
}, 240_000);

/** The procedure paths the generated AppRouterRecord declares (`auth.login`, …), read from its syntax. */
function declaredProcedures(text: string): string[] {
  const file = ts.createSourceFile('router.d.ts', text, ts.ScriptTarget.Latest, true);
  const record = file.statements.find(
    (s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'AppRouterRecord',
  );
  if (!record) throw new Error('router.d.ts declares no AppRouterRecord');
  const paths: string[] = [];
  const walk = (node: ts.TypeNode, prefix: string[]) => {
    if (!ts.isTypeLiteralNode(node)) return;
    for (const member of node.members) {
      if (!ts.isPropertySignature(member) || !member.type) continue;
      const here = [...prefix, member.name.getText(file)];
      if (
        ts.isTypeReferenceNode(member.type) &&
        /^TRPC\w+Procedure$/.test(member.type.typeName.getText(file))
      ) {
        paths.push(here.join('.'));
      } else walk(member.type, here);
    }
  };
  walk(record.type, []);
  return paths;
}

const checkDir = join(sdkDir, 'node_modules/.cache', `router-check-${process.pid}`);
afterAll(() => rmSync(checkDir, { recursive: true, force: true }));

describe('the published router types (dist/router.d.ts, generated by the build)', () => {
  it("say exactly what the server's router says: per procedure the kind, input and output, and the error shape", () => {
    const published = readFileSync(join(consumer, 'node_modules/@woopdi/sdk/dist/router.d.ts'), 'utf8');
    expect(published).toBe(readFileSync(join(sdkDir, 'dist/router.d.ts'), 'utf8'));
    const procedures = declaredProcedures(published);
    expect(procedures).toEqual(
      expect.arrayContaining(['auth.login', 'users.me', 'tasks.start', 'tasks.events']),
    );
    expect(procedures.length).toBeGreaterThan(40);

    // Both types side by side, resolved as in the workspace (the server's from @woopdi/api's source).
    // Each `same<A, B>(true)` compiles only when A and B are assignable to each other.
    const path = (p: string) =>
      p
        .split('.')
        .map((k) => `[${JSON.stringify(k)}]`)
        .join('');
    const lines = [
      "import type { inferRouterError, inferRouterInputs, inferRouterOutputs } from '@trpc/server';",
      "import type { AppRouter as Server } from '@woopdi/api';",
      "import type { AppRouter as Public } from '../../../dist/router.js';",
      'type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;',
      'declare function same<A, B>(check: Same<A, B>): void;',
      "type SR = Server['_def']['record'];",
      "type PR = Public['_def']['record'];",
      'same<inferRouterError<Server>, inferRouterError<Public>>(true); // errorShape',
      // A control that must fail, so that passing means something: login's input is not its output.
      "same<inferRouterInputs<Server>['auth']['login'], inferRouterOutputs<Public>['auth']['login']>(true); // control",
    ];
    for (const p of procedures) {
      const at = path(p);
      lines.push(
        `same<SR${at}['_def']['type'], PR${at}['_def']['type']>(true); // ${p} kind`,
        `same<inferRouterInputs<Server>${at}, inferRouterInputs<Public>${at}>(true); // ${p} input`,
        `same<inferRouterOutputs<Server>${at}, inferRouterOutputs<Public>${at}>(true); // ${p} output`,
      );
    }
    mkdirSync(checkDir, { recursive: true });
    const checkFile = join(checkDir, 'check.ts');
    writeFileSync(checkFile, `${lines.join('\n')}\n`);
    const { options } = readConfig(join(sdkDir, 'tsconfig.json'));
    const program = ts.createProgram([checkFile], { ...options, noEmit: true, skipLibCheck: false });
    const routerFile = join(sdkDir, 'dist/router.d.ts');
    const diagnostics = [checkFile, routerFile].flatMap((file) => {
      const source = program.getSourceFile(file);
      if (!source) throw new Error(`not in the program: ${file}`);
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    });
    const report = diagnostics.map((d) => {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
      const where = d.file?.fileName === checkFile ? (lines[line]?.split('// ')[1] ?? '') : d.file?.fileName;
      return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ').slice(0, 300)}`;
    });
    expect(report.filter((r) => r.startsWith('control:'))).toHaveLength(1);
    expect(report.filter((r) => !r.startsWith('control:'))).toEqual([]);
  }, 120_000);
});

describe('the packed SDK in a project outside the workspace', () => {
  it('ships built JavaScript and declarations only, needing nothing but tRPC from a browser project', () => {
    const files = tarball.files.map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']),
    );
    expect(files).toContain('dist/router.d.ts');
    expect(
      files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/[\w-]+\.(js|d\.ts))$/.test(f)),
    ).toEqual([]);

    const installed = join(consumer, 'node_modules/@woopdi/sdk');
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    expect(pkg.exports).toEqual({ '.': { types: './dist/index.d.ts', import: './dist/index.js' } });
    // tRPC as peers, so the app and the SDK share one copy (two copies make their client types clash).
    expect(pkg.dependencies).toBeUndefined();
    expect(Object.keys(pkg.peerDependencies ?? {}).sort()).toEqual(['@trpc/client', '@trpc/server']);
    expect(existsSync(join(consumer, 'node_modules/@trpc/client/package.json'))).toBe(true);
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
    // No server package came along.
    for (const name of [
      '@woopdi/api',
      '@woopdi/core',
      '@woopdi/db',
      'drizzle-orm',
      'stripe',
      'postgres',
      'express',
    ]) {
      expect(existsSync(join(consumer, 'node_modules', name)), name).toBe(false);
    }
    const declarations = readdirSync(join(installed, 'dist')).filter((f) => f.endsWith('.d.ts'));
    for (const file of declarations) {
      const text = readFileSync(join(installed, 'dist', file), 'utf8');
      expect(text, file).not.toMatch(/@woopdi\/|drizzle|stripe|ioredis|graphile|reference types=/);
    }
    console.log(
      `[sdk package] ${tarball.name}: ${(tarball.bytes / 1024).toFixed(1)} KiB packed, ${files.length} files; ` +
        `dist/router.d.ts ${(statSync(join(installed, 'dist/router.d.ts')).size / 1024).toFixed(1)} KiB`,
    );
  });

  it('type-checks the correct file and fails the three misuses on exactly their lines', async () => {
    const { diagnostics, exitCode, stdout } = await tsc(['-p', 'tsconfig.json', '--listFiles']);
    expect(exitCode).not.toBe(0);
    const expected = misuse
      .split('\n')
      .map((text, i) => ({ line: i + 1, code: /expect (TS\d+)/.exec(text)?.[1] }))
      .filter((e): e is { line: number; code: string } => e.code !== undefined);
    expect(expected).toHaveLength(3);
    expect(diagnostics.map(({ file, line, code }) => ({ file, line, code }))).toEqual(
      expected.map((e) => ({ file: 'src/misuse.ts', ...e })),
    );
    expect(diagnostics.map((d) => d.message).join('\n')).toMatch(/emailAddress/);

    // The program tsc loaded: TypeScript's lib, Vite's client types, the SDK and tRPC; no server file.
    const loaded = stdout
      .split('\n')
      .filter((l) => l.startsWith(sep) || /^[A-Za-z]:/.test(l))
      .map((l) => l.slice(consumer.length + 1));
    expect(loaded.length).toBeGreaterThan(10);
    const unexpected = loaded.filter(
      (f) =>
        !/^(src\/|node_modules\/(typescript\/lib|vite|@woopdi\/sdk\/dist|@trpc\/(client|server)\/dist)\/)/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
  });

  it("compiles the SDK's own declarations under the same strict options (skipLibCheck off for them)", () => {
    // In process, to check only the SDK's files (tsc would check every library's declarations too).
    const { fileNames, options } = readConfig(join(consumer, 'tsconfig.json'));
    const program = ts.createProgram(fileNames, { ...options, skipLibCheck: false });
    const own = program
      .getSourceFiles()
      .filter((f) => f.fileName.startsWith(join(consumer, 'node_modules/@woopdi/sdk/')));
    expect(own.map((f) => f.fileName.slice(f.fileName.lastIndexOf('/') + 1)).sort()).toEqual(
      expect.arrayContaining(['index.d.ts', 'router.d.ts', 'client.d.ts', 'tasks.d.ts']),
    );
    const diagnostics = own.flatMap((f) => [
      ...program.getSyntacticDiagnostics(f),
      ...program.getSemanticDiagnostics(f),
    ]);
    expect(
      diagnostics.map((d) => `${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`),
    ).toEqual([]);
  });

  it('bundles with Vite into a page that carries no server code', async () => {
    await sh(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], consumer);
    const assets = join(consumer, 'dist/assets');
    const scripts = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const bundle = scripts.map((f) => readFileSync(join(assets, f), 'utf8')).join('\n');
    // The SDK is in it (its own messages), the server is not.
    expect(bundle).toContain('This Woopdi client was closed');
    expect(bundle).toContain('/trpc');
    expect(bundle).not.toMatch(
      /drizzle|postgres|stripe|express|ioredis|graphile|argon2|@woopdi\/(api|core|db)/i,
    );
    const gzipped = gzipSync(bundle).length;
    console.log(
      `[sdk package] Vite bundle: ${(bundle.length / 1024).toFixed(1)} KiB, ${(gzipped / 1024).toFixed(1)} KiB gzipped`,
    );
    // The SDK and tRPC's client are tens of KiB; a server module would be far more.
    expect(gzipped).toBeLessThan(64 * 1024);
  });
});
