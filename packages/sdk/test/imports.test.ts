// The SDK must not pull server code into a browser bundle: it may import only the *type* AppRouter
// from @woopdi/api, and no @woopdi package at runtime.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import pkg from '../package.json' with { type: 'json' };

const srcDir = new URL('../src/', import.meta.url).pathname;
const sources = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: readFileSync(join(srcDir, f), 'utf8') }));

interface ModuleReference {
  file: string;
  specifier: string;
  typeOnly: boolean;
  kind: string;
}

/** Every module the file names: static imports and re-exports, import(), require(), import x = require(). */
function referencesOf(file: string, text: string): ModuleReference[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: ModuleReference[] = [];
  const add = (node: ts.Node | undefined, typeOnly: boolean, kind: string) => {
    if (node && ts.isStringLiteralLike(node)) found.push({ file, specifier: node.text, typeOnly, kind });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      // `import { type A } from 'x'` still loads 'x' at runtime under verbatimModuleSyntax:
      // only a whole-clause `import type` is erased.
      add(node.moduleSpecifier, node.importClause?.isTypeOnly === true, 'import');
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly, 'export from');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly, 'import =');
    } else if (ts.isCallExpression(node)) {
      const [arg] = node.arguments;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(arg, false, 'import()');
      else if (ts.isIdentifier(node.expression) && node.expression.text === 'require')
        add(arg, false, 'require()');
    } else if (ts.isImportTypeNode(node)) {
      const literal = ts.isLiteralTypeNode(node.argument) ? node.argument.literal : undefined;
      add(literal, true, 'import type()');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const references = sources.flatMap(({ file, text }) => referencesOf(file, text));

it('reads the SDK sources', () => {
  expect(sources.map((s) => s.file)).toContain('index.ts');
  expect(references.length).toBeGreaterThan(5);
});

it('imports only types from @woopdi/api, and nothing else from @woopdi', () => {
  const woopdi = references.filter((r) => r.specifier.startsWith('@woopdi/'));
  expect(woopdi.length).toBeGreaterThan(0);
  expect(woopdi.filter((r) => !r.typeOnly)).toEqual([]);
  expect(woopdi.filter((r) => r.specifier !== '@woopdi/api')).toEqual([]);
});

it('emits JavaScript that names no @woopdi package', () => {
  for (const { file, text } of sources) {
    const { outputText } = ts.transpileModule(text, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
        removeComments: true,
      },
    });
    expect(outputText, file).toMatch(/\bimport\b|\bexport\b/);
    // A module specifier naming @woopdi: `from '@woopdi/…'`, `import '@woopdi/…'`, `import('@woopdi/…')`.
    expect(outputText, file).not.toMatch(/\b(?:from|import|require)\s*\(?\s*['"`]@woopdi\//);
  }
});

it('needs @woopdi/api only at development time', () => {
  const manifest = pkg as { dependencies?: object; peerDependencies?: object };
  const runtime = { ...manifest.dependencies, ...manifest.peerDependencies };
  expect(Object.keys(runtime).filter((name) => name.startsWith('@woopdi/'))).toEqual([]);
  expect(pkg.devDependencies).toHaveProperty('@woopdi/api');
  expect(Object.keys(runtime)).toEqual(expect.arrayContaining(['@trpc/client']));
});
