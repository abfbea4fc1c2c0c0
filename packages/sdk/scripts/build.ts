// `pnpm build` (and `prepack`): dist/ from a clean start. One TypeScript program (tsconfig.build.json)
// type-checks the SDK's sources and emits them; from the same program, dist/router.d.ts (which tsc
// writes as a re-export of @woopdi/api's AppRouter) is replaced by the router's generated public
// surface; then no declaration in dist/ may name a module a consumer would not have.
//   tsx scripts/build.ts
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { readConfig, routerDeclarations } from './router-declarations.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const distDir = join(packageDir, 'dist');
/** What the published declarations may import: their own files and the SDK's dependencies. */
const ALLOWED = /^(?:\.{1,2}\/|@trpc\/(?:client|server)(?:\/|$))/;

/** Every module specifier a declaration file names (imports, re-exports, `import("…")` types). */
function specifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const literal = node.argument.literal;
      if (ts.isStringLiteral(literal)) found.push(literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  // `/// <reference types="node" />` would make a consumer install @types/node.
  found.push(...source.typeReferenceDirectives.map((d) => `types:${d.fileName}`));
  found.push(...source.referencedFiles.map((d) => `path:${d.fileName}`));
  return found;
}

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => packageDir,
    getNewLine: () => '\n',
  };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}

const started = Date.now();
rmSync(distDir, { recursive: true, force: true });
const config = readConfig(join(packageDir, 'tsconfig.build.json'));
if (config.errors.length) fail(config.errors);
const program = ts.createProgram(config.fileNames, config.options);
// The SDK's own files; the server packages they reach are checked by their own typecheck.
const own = config.fileNames.map((f) => program.getSourceFile(f)).filter((f) => f !== undefined);
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...own.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
];
if (diagnostics.length) fail(diagnostics);
const emitted = program.emit();
if (emitted.emitSkipped || emitted.diagnostics.length) fail(emitted.diagnostics);

const { text, procedures } = routerDeclarations({ program, entry: join(packageDir, 'src/router.ts') });
writeFileSync(join(distDir, 'router.d.ts'), text);
// tsc's (empty) module for the type-only re-export: nothing imports it at runtime.
rmSync(join(distDir, 'router.js'), { force: true });

const offending = readdirSync(distDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.d.ts'))
  .flatMap((f) => specifiers(join(distDir, f)).map((specifier) => ({ file: f, specifier })))
  .filter(({ specifier }) => !ALLOWED.test(specifier));
if (offending.length) {
  for (const { file, specifier } of offending) console.error(`dist/${file} imports ${specifier}`);
  console.error('The published declarations name modules outside the SDK and @trpc: see above.');
  process.exit(1);
}
console.log(
  `dist/: ${own.length} modules; router.d.ts ${procedures.length} procedures, ${(text.length / 1024).toFixed(1)} KiB; ${Date.now() - started} ms`,
);
