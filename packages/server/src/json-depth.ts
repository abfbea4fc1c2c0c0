// Nesting depth of a JSON body, counted on the raw bytes before it is parsed (issue #14): a small
// body nested thousands of levels deep would otherwise overflow the stack of whatever walks the
// parsed value (the REST bridge, schema validation). Beyond JSON_MAX_DEPTH: 400 with a message.
import type { IncomingMessage, ServerResponse } from 'node:http';

const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** True when the JSON text in `bytes` opens more than `max` objects/arrays inside one another. */
export function jsonDepthExceeds(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

export const JSON_TOO_DEEP = 'JSON_TOO_DEEP';

export const tooDeepMessage = (max: number) =>
  `The request body is nested more than ${max} levels deep (JSON_MAX_DEPTH). Send a flatter document.`;

/** body-parser's `verify` hook: refuses a too-deep body before it is parsed. */
export function depthGuard(max: number) {
  return (_req: IncomingMessage, _res: ServerResponse, buf: Buffer) => {
    if (jsonDepthExceeds(buf, max))
      throw Object.assign(new Error(tooDeepMessage(max)), { status: 400, code: JSON_TOO_DEEP, expose: true });
  };
}
