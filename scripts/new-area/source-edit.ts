// Edits of the registries (root.ts, schema/index.ts, audit.ts, core's task kinds, …) by parsing,
// not by line numbers: other branches add entries to the same files, so the generator finds the
// object, array or union by its opening text and inserts before its matching close.

/** Index of the bracket that closes the one at `open`, skipping strings and comments. */
export function matchingClose(source: string, open: number): number {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: string[] = [];
  for (let i = open; i < source.length; i++) {
    const c = source[i]!;
    if (c === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i);
      if (i < 0) break;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i + 2) + 1;
      if (i <= 0) break;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === '\\') i++;
      continue;
    }
    if (pairs[c]) stack.push(pairs[c]);
    else if (c === '}' || c === ']' || c === ')') {
      if (stack.pop() !== c) break;
      if (stack.length === 0) return i;
    }
  }
  throw new Error(`unbalanced brackets after offset ${open}`);
}

/** The end of `anchor` in `source`, or an error naming the file and what was expected there. */
function find(source: string, anchor: string | RegExp, file: string): number {
  if (typeof anchor === 'string') {
    const at = source.indexOf(anchor);
    if (at < 0) throw new Error(`${file}: cannot find \`${anchor}\`; the generator edits it by that anchor.`);
    return at + anchor.length;
  }
  const m = anchor.exec(source);
  if (!m) throw new Error(`${file}: cannot find ${anchor}; the generator edits it by that anchor.`);
  return m.index + m[0].length;
}

/**
 * Inserts `entry` (one or more lines, without indentation) as the last element of the object or
 * array whose opening bracket ends `anchor`, adding the separating comma if the last one lacks it.
 */
export function appendToLiteral(source: string, anchor: string | RegExp, entry: string, file: string) {
  const open = find(source, anchor, file) - 1;
  if (!'{[('.includes(source[open]!)) throw new Error(`${file}: \`${anchor}\` must end with a bracket`);
  const close = matchingClose(source, open);
  let body = source.slice(open + 1, close).trimEnd();
  const lastLine = body.split('\n').pop()!.trim();
  // Biome leaves a trailing comma after every last element; a closing comment line needs none.
  if (body.trim() && !body.endsWith(',') && !lastLine.startsWith('//')) body += ',';
  const indented = entry
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
  return `${source.slice(0, open + 1)}${body}\n${indented}\n${source.slice(close)}`;
}

/** Appends members to the union type `export type Name =` (before its terminating `;`). */
export function appendToUnion(source: string, typeName: string, members: string[], file: string) {
  const start = find(source, new RegExp(`export type ${typeName}\\s*=`), file);
  let i = start;
  for (; i < source.length; i++) {
    const c = source[i]!;
    if (c === '/' && source[i + 1] === '/') i = source.indexOf('\n', i);
    else if (c === "'" || c === '"') for (i++; source[i] !== c; i++);
    else if (c === ';') break;
  }
  if (i >= source.length) throw new Error(`${file}: the union ${typeName} has no terminating ';'`);
  const added = members.map((m) => `\n  | ${m}`).join('');
  return `${source.slice(0, i)}${added}${source.slice(i)}`;
}

/** Adds an import (or `export … from`) statement after the file's last top-level import. */
export function addImport(source: string, statement: string) {
  const lines = source.split('\n');
  let last = -1;
  let inside = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!inside && /^import\b/.test(line)) inside = true;
    if (inside && /['"];\s*$/.test(line)) {
      inside = false;
      last = i;
    }
  }
  lines.splice(last + 1, 0, statement);
  return lines.join('\n');
}
