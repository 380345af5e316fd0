import { GatewayError } from '@dynmcp/plugin';

/**
 * Deepest nesting of objects and arrays accepted in an admin request body. Definitions need a
 * handful of levels (a tool's `input_schema` is itself capped at 32); deeper bodies only serve
 * to overflow the stack of whatever walks them recursively later.
 */
export const MAX_ADMIN_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

interface Frame {
  /** Keys seen so far; undefined for an array. */
  keys: Set<string> | undefined;
  /** Object: the next string is a key. */
  expectKey: boolean;
  /** Object: the last key; array: the index of the current element. */
  key: string;
  index: number;
}

/** Keys and paths are the client's own text, of any length: messages show at most 200 characters. */
const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

const segment = (key: string) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

function pointer(stack: readonly Frame[], last: number): string {
  let path = '';
  for (let depth = 0; depth < last; depth += 1) {
    const frame = stack[depth]!;
    path += frame.keys === undefined ? `/${frame.index}` : segment(frame.key);
  }
  return path;
}

/**
 * Checks an admin request body before it is parsed: at most `maxDepth` nested objects and
 * arrays, and no object with the same key twice. `JSON.parse` keeps the last of two equal keys,
 * while other JSON readers (and the person who wrote the body) may take the first; a definition
 * that means two things is refused instead. One pass over the bytes, linear in the body's size.
 *
 * The body must be UTF-8 (RFC 8259 § 8.1), whose multi-byte sequences never hold an ASCII byte,
 * so quotes, backslashes and brackets are found byte by byte. A body that is not JSON is left to
 * the parser to refuse: scanning stops where it stops making sense.
 */
export function assertJsonShape(body: Buffer, maxDepth = MAX_ADMIN_JSON_DEPTH): void {
  const stack: Frame[] = [];
  const length = body.length;
  let i = 0;
  while (i < length) {
    const byte = body[i]!;
    if (byte === QUOTE) {
      const start = i;
      let escaped = false;
      i += 1;
      while (i < length && body[i] !== QUOTE) {
        if (body[i] === BACKSLASH) {
          escaped = true;
          i += 1;
        }
        i += 1;
      }
      if (i >= length) return;
      const frame = stack[stack.length - 1];
      if (frame?.keys !== undefined && frame.expectKey) {
        let key = body.toString('utf8', start + 1, i);
        if (escaped) {
          try {
            // `"a"` and `"\u0061"` are the same key.
            key = JSON.parse(body.toString('utf8', start, i + 1)) as string;
          } catch {
            return;
          }
        }
        if (frame.keys.has(key)) {
          const path = pointer(stack, stack.length - 1) + segment(key);
          throw new GatewayError('DUPLICATE_KEY', `the key "${clip(key)}" appears twice at ${clip(path)}; give each key once per object`, {
            data: { key: clip(key), path: clip(path) },
          });
        }
        frame.keys.add(key);
        frame.key = key;
        frame.expectKey = false;
      }
      i += 1;
      continue;
    }
    if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (stack.length >= maxDepth) {
        throw new GatewayError(
          'PAYLOAD_TOO_DEEP',
          `request body nests objects and arrays deeper than ${maxDepth} levels (at ${clip(pointer(stack, stack.length) || '/')})`,
          { data: { max_depth: maxDepth } },
        );
      }
      const isObject = byte === OPEN_OBJECT;
      stack.push({ keys: isObject ? new Set() : undefined, expectKey: isObject, key: '', index: 0 });
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      if (stack.pop() === undefined) return;
    } else if (byte === COMMA) {
      const frame = stack[stack.length - 1];
      if (frame?.keys !== undefined) frame.expectKey = true;
      else if (frame !== undefined) frame.index += 1;
    }
    i += 1;
  }
}

/** True for the charsets {@link assertJsonShape} reads: UTF-8 under either spelling. */
export function isUtf8(charset: string): boolean {
  const lower = charset.toLowerCase();
  return lower === 'utf-8' || lower === 'utf8';
}
