// Writes the server router's public type surface as one self-contained declaration file: every
// procedure's kind, input, output and the error shape, spelled out structurally. The server's
// `AppRouter` type embeds its Context (drizzle's Db, Stripe, Redis, …); tRPC's client needs none
// of that, so the published SDK carries this file instead and a consumer installs no server package.
import { dirname } from 'node:path';
import ts from 'typescript';

export interface RouterDeclarationsOptions {
  /** A program that holds `entry`, resolved with the `@woopdi/source` condition (the package's tsconfig). */
  program: ts.Program;
  /** A module whose export `AppRouter` is the server's router type (src/router.ts). */
  entry: string;
}

export interface RouterDeclarations {
  text: string;
  /** Every procedure's path (`auth.login`), in the router's order. */
  procedures: string[];
}

/** A tsconfig's root files and compiler options, `extends` and all. */
export function readConfig(configFile: string): ts.ParsedCommandLine {
  const read = ts.readConfigFile(configFile, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(configFile), undefined, configFile);
}

const isIdentifier = (name: string) => /^[A-Za-z_$][\w$]*$/.test(name);

export function routerDeclarations(options: RouterDeclarationsOptions): RouterDeclarations {
  const { program } = options;
  const checker = program.getTypeChecker();
  const entry = program.getSourceFile(options.entry);
  if (!entry) throw new Error(`router declarations: cannot read ${options.entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(entry);
  const exported =
    moduleSymbol && checker.getExportsOfModule(moduleSymbol).find((s) => s.name === 'AppRouter');
  if (!exported) throw new Error(`router declarations: ${options.entry} exports no AppRouter`);
  const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const routerType = checker.getDeclaredTypeOfSymbol(target);

  const printer = new TypePrinter(program, checker);
  const prop = (type: ts.Type, name: string, where: string): ts.Type => {
    const symbol = checker.getPropertyOfType(type, name);
    if (!symbol) throw new Error(`router declarations: ${where} has no ${name}`);
    return checker.getTypeOfSymbol(symbol);
  };

  const def = prop(routerType, '_def', 'AppRouter');
  const rootTypes = prop(prop(def, '_config', 'AppRouter._def'), '$types', 'AppRouter._def._config');
  const transformer = prop(rootTypes, 'transformer', 'the root types');
  if (!(transformer.flags & ts.TypeFlags.BooleanLiteral) || checker.typeToString(transformer) !== 'false') {
    throw new Error(
      'router declarations: the router has a data transformer; the generated types assume none',
    );
  }
  const errorShape = printer.print(prop(rootTypes, 'errorShape', 'the root types'), 'errorShape');

  const procedures: string[] = [];
  const kinds = new Set<string>();
  const builders: Record<string, string> = {
    query: 'TRPCQueryProcedure',
    mutation: 'TRPCMutationProcedure',
    subscription: 'TRPCSubscriptionProcedure',
  };
  const record = (type: ts.Type, path: string[]): string => {
    const members = checker.getPropertiesOfType(type).map((symbol) => {
      const name = symbol.name;
      const member = checker.getTypeOfSymbol(symbol);
      const here = [...path, name];
      const key = isIdentifier(name) ? name : JSON.stringify(name);
      const procDef = checker.getPropertyOfType(member, '_def');
      const procedureFlag =
        procDef && checker.getPropertyOfType(checker.getTypeOfSymbol(procDef), 'procedure');
      if (!procDef || !procedureFlag) return `${key}: ${record(member, here)};`;
      const defType = checker.getTypeOfSymbol(procDef);
      const kind = checker.typeToString(prop(defType, 'type', here.join('.'))).replaceAll('"', '');
      const builder = builders[kind];
      if (!builder)
        throw new Error(`router declarations: ${here.join('.')} is a ${kind}, not a procedure kind`);
      kinds.add(builder);
      procedures.push(here.join('.'));
      const types = prop(defType, '$types', here.join('.'));
      const input = printer.print(prop(types, 'input', here.join('.')), `${here.join('.')} input`);
      const output = printer.print(prop(types, 'output', here.join('.')), `${here.join('.')} output`);
      const doc = docOf(symbol, checker);
      const comment = doc ? `/** ${doc.replaceAll('*/', '*\\/')} */\n` : '';
      return `${comment}${key}: ${builder}<{ input: ${input}; output: ${output}; meta: object; errorShape: ErrorShape }>;`;
    });
    return `{\n${members.join('\n')}\n}`;
  };
  const procedureRecord = record(prop(def, 'record', 'AppRouter._def'), []);

  const source = [
    '// Generated from the server router by packages/sdk/scripts/build.ts: do not edit.',
    "// It is the router's public surface only (procedure kinds, inputs, outputs, error shape): the",
    "// server's context type is not part of it, so it names no server package.",
    `import type { TRPCBuiltRouter, ${[...kinds].sort().join(', ')} } from '@trpc/server';`,
    ...printer.hoisted(),
    '/** The shape of every error the server sends (`TRPCClientError#shape`); `data.code` is the tRPC code. */',
    `export type ErrorShape = ${errorShape};`,
    '/** The procedures, by path: `AppRouter["auth"]["login"]`. */',
    `export type AppRouterRecord = ${procedureRecord};`,
    '/** The Woopdi router as tRPC clients see it: `createTRPCClient<AppRouter>(…)`. */',
    'export type AppRouter = TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: ErrorShape; transformer: false }, AppRouterRecord>;',
    '',
  ].join('\n');
  // Parse and print it back: checks the syntax and lays every type literal out one member a line.
  const file = ts.createSourceFile('router.d.ts', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const text = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed }).printFile(file);
  return { text, procedures };
}

/** A procedure's doc comment: its JSDoc, else the OpenAPI `summary` in its `.meta({ openapi })`. */
function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string | null {
  const jsdoc = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  if (jsdoc) return jsdoc.replace(/\s+/g, ' ');
  let summary: string | null = null;
  const visit = (node: ts.Node) => {
    if (summary !== null) return;
    if (
      ts.isPropertyAssignment(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === 'summary' &&
      ts.isStringLiteralLike(node.initializer)
    ) {
      summary = node.initializer.text;
      return;
    }
    ts.forEachChild(node, visit);
  };
  for (const declaration of symbol.declarations ?? []) visit(declaration);
  return summary;
}

/**
 * Prints a resolved type as TypeScript source that needs no import: primitives, literals, unions,
 * intersections, arrays, tuples and object literals, expanded; types from the default lib (Date,
 * AsyncIterable, Record…) by name. Recursive types become hoisted aliases. Anything it cannot spell
 * out (functions, classes' private members, unresolved generics) stops the build with the path.
 */
class TypePrinter {
  private readonly inProgress = new Map<ts.Type, { name: string | null }>();
  private readonly names = new Map<ts.Type, string>();
  private readonly aliases: string[] = [];
  private counter = 0;
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;

  constructor(program: ts.Program, checker: ts.TypeChecker) {
    this.program = program;
    this.checker = checker;
  }

  hoisted(): string[] {
    return this.aliases;
  }

  print(type: ts.Type, where: string): string {
    const named = this.names.get(type);
    if (named) return named;
    const f = type.flags;
    if (f & ts.TypeFlags.Any) return 'any';
    if (f & ts.TypeFlags.Unknown) return 'unknown';
    if (f & ts.TypeFlags.Never) return 'never';
    if (f & ts.TypeFlags.Void) return 'void';
    if (f & ts.TypeFlags.Undefined) return 'undefined';
    if (f & ts.TypeFlags.Null) return 'null';
    if (f & ts.TypeFlags.Boolean) return 'boolean';
    if (f & ts.TypeFlags.String) return 'string';
    if (f & ts.TypeFlags.Number) return 'number';
    if (f & ts.TypeFlags.BigInt) return 'bigint';
    if (f & ts.TypeFlags.ESSymbol) return 'symbol';
    if (f & ts.TypeFlags.NonPrimitive) return 'object';
    if (f & ts.TypeFlags.BooleanLiteral) return this.checker.typeToString(type);
    if (type.isStringLiteral()) return JSON.stringify(type.value);
    if (type.isNumberLiteral()) return String(type.value);
    if (f & ts.TypeFlags.BigIntLiteral) return this.checker.typeToString(type);
    if (f & (ts.TypeFlags.TemplateLiteral | ts.TypeFlags.StringMapping))
      return this.checker.typeToString(type);
    if (f & (ts.TypeFlags.Union | ts.TypeFlags.Intersection | ts.TypeFlags.Object)) {
      return this.guarded(type, () => this.printStructured(type, where));
    }
    throw new Error(`router declarations: cannot spell out ${this.checker.typeToString(type)} (${where})`);
  }

  /** Prints a type that can refer to itself; a second visit while printing it names it instead. */
  private guarded(type: ts.Type, printIt: () => string): string {
    const active = this.inProgress.get(type);
    if (active) {
      active.name ??= `Recursive${type.aliasSymbol?.name ?? ''}${++this.counter}`;
      return active.name;
    }
    const entry: { name: string | null } = { name: null };
    this.inProgress.set(type, entry);
    try {
      const text = printIt();
      if (entry.name === null) return text;
      this.aliases.push(`type ${entry.name} = ${text};`);
      this.names.set(type, entry.name);
      return entry.name;
    } finally {
      this.inProgress.delete(type);
    }
  }

  private printStructured(type: ts.Type, where: string): string {
    if (type.isUnion()) {
      const parts = type.types;
      const hasTrue = parts.some(
        (t) => t.flags & ts.TypeFlags.BooleanLiteral && this.checker.typeToString(t) === 'true',
      );
      const hasFalse = parts.some(
        (t) => t.flags & ts.TypeFlags.BooleanLiteral && this.checker.typeToString(t) === 'false',
      );
      const printed: string[] = [];
      for (const part of parts) {
        if (hasTrue && hasFalse && part.flags & ts.TypeFlags.BooleanLiteral) {
          if (!printed.includes('boolean')) printed.push('boolean');
          continue;
        }
        printed.push(this.wrap(part, this.print(part, where)));
      }
      return printed.join(' | ');
    }
    if (type.isIntersection()) {
      // Object parts merge into one literal ({ a } & { b } → { a; b }); brands (string & { … }) stay.
      if (type.types.every((t) => t.flags & ts.TypeFlags.Object && !this.isLib(t))) {
        return this.printObject(type, where);
      }
      return type.types.map((t) => this.wrap(t, this.print(t, where))).join(' & ');
    }
    if (this.checker.isArrayType(type)) {
      const [element] = this.checker.getTypeArguments(type as ts.TypeReference);
      const readonly = type.symbol?.name === 'ReadonlyArray' ? 'readonly ' : '';
      return `${readonly}${this.wrap(element as ts.Type, this.print(element as ts.Type, `${where}[]`))}[]`;
    }
    if (this.checker.isTupleType(type)) {
      const reference = type as ts.TypeReference;
      const tuple = reference.target as ts.TupleType;
      const elements = this.checker.getTypeArguments(reference).map((element, i) => {
        const flags = tuple.elementFlags[i] ?? ts.ElementFlags.Required;
        const text = this.print(element, `${where}[${i}]`);
        if (flags & ts.ElementFlags.Optional) return `${this.wrap(element, text)}?`;
        if (flags & ts.ElementFlags.Rest) return `...${this.wrap(element, text)}[]`;
        if (flags & ts.ElementFlags.Variadic) return `...${text}`;
        return text;
      });
      return `${tuple.readonly ? 'readonly ' : ''}[${elements.join(', ')}]`;
    }
    const lib = this.libName(type);
    if (lib) return lib;
    return this.printObject(type, where);
  }

  private inLib(symbol: ts.Symbol | undefined): boolean {
    return (
      !!symbol?.declarations?.length &&
      symbol.declarations.every((d) => this.program.isSourceFileDefaultLibrary(d.getSourceFile()))
    );
  }

  /** Whether libName would name it (no printing, no side effects). */
  private isLib(type: ts.Type): boolean {
    if (type.aliasSymbol && this.inLib(type.aliasSymbol)) return true;
    return (
      !!(type.flags & ts.TypeFlags.Object) && this.inLib(type.symbol) && !type.symbol.name.startsWith('__')
    );
  }

  /** `Date`, `AsyncIterable<T, void, any>`, `Record<string, unknown>`: a default-lib type, by name. */
  private libName(type: ts.Type): string | null {
    if (!this.isLib(type)) return null;
    if (type.aliasSymbol && this.inLib(type.aliasSymbol)) {
      const args = (type.aliasTypeArguments ?? []).map((t) => this.print(t, type.aliasSymbol?.name ?? ''));
      return args.length ? `${type.aliasSymbol.name}<${args.join(', ')}>` : type.aliasSymbol.name;
    }
    const reference = type as ts.TypeReference;
    if (!((type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference)) return type.symbol.name;
    const arity = (reference.target as ts.InterfaceType).typeParameters?.length ?? 0;
    const args = this.checker
      .getTypeArguments(reference)
      .slice(0, arity)
      .map((t) => this.print(t, type.symbol.name));
    return args.length ? `${type.symbol.name}<${args.join(', ')}>` : type.symbol.name;
  }

  private printObject(type: ts.Type, where: string): string {
    if (type.getCallSignatures().length || type.getConstructSignatures().length) {
      throw new Error(`router declarations: a function type cannot go over the wire (${where})`);
    }
    const members: string[] = [];
    for (const info of this.checker.getIndexInfosOfType(type)) {
      const readonly = info.isReadonly ? 'readonly ' : '';
      members.push(
        `${readonly}[key: ${this.print(info.keyType, where)}]: ${this.print(info.type, `${where}[key]`)};`,
      );
    }
    for (const symbol of this.checker.getPropertiesOfType(type)) {
      const name = symbol.name;
      if (name.startsWith('__@') || name.startsWith('#')) {
        throw new Error(
          `router declarations: symbol or private key ${name} cannot be spelled out (${where})`,
        );
      }
      const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
      const modifiers =
        declaration && ts.canHaveModifiers(declaration) ? ts.getModifiers(declaration) : undefined;
      if (
        modifiers?.some(
          (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
        )
      ) {
        throw new Error(`router declarations: private member ${name} cannot be spelled out (${where})`);
      }
      const optional = symbol.flags & ts.SymbolFlags.Optional ? '?' : '';
      const key = isIdentifier(name) ? name : JSON.stringify(name);
      // Field docs (`/** 0..1 */`) and zod `.describe()` texts do not survive as types; JSDoc does.
      const doc = ts.displayPartsToString(symbol.getDocumentationComment(this.checker)).trim();
      const comment = doc ? `\n/** ${doc.replace(/\s+/g, ' ').replaceAll('*/', '*\\/')} */\n` : '';
      members.push(
        `${comment}${key}${optional}: ${this.print(this.checker.getTypeOfSymbol(symbol), `${where}.${name}`)};`,
      );
    }
    return members.length ? `{ ${members.join(' ')} }` : '{}';
  }

  /** Parenthesizes a printed union or intersection where it is an operand (of [], &, |). */
  private wrap(type: ts.Type, text: string): string {
    if (this.names.get(type) === text || !(type.isUnion() || type.isIntersection())) return text;
    if (type.flags & ts.TypeFlags.Boolean || text === 'boolean') return text;
    return `(${text})`;
  }
}
