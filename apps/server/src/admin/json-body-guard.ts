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

/**
 * Where one object or array of the body lies, for reading it piece by piece (see
 * `sliced-json.ts`): byte offsets of its brackets, of its own commas, of each member's key, and
 * the nodes of the containers among its members.
 */
export interface JsonNode {
  isObject: boolean;
  open: number;
  /** The closing bracket; -1 while (or if never) closed. */
  close: number;
  /** The commas between its members: member `n` lies between comma `n - 1` (or `open`) and comma `n` (or `close`). */
  commas: number[];
  /** Object: the opening and closing quote of member `n`'s key. */
  keys: Array<readonly [number, number] | undefined>;
  /** The node of member `n`, when it is a container the scan recorded. */
  members: Array<JsonNode | undefined>;
}

interface Frame {
  /** Keys seen so far; undefined for an array. */
  keys: Set<string> | undefined;
  /** Object: the next string is a key. */
  expectKey: boolean;
  /** Object: the last key; array: the index of the current element. */
  key: string;
  index: number;
  /** The container's node, when the scan records its level. */
  node: JsonNode | undefined;
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

/** The closing quote of the string opened at `start`, or -1: the next quote not escaped by an odd run of backslashes. */
function closingQuote(body: Buffer, start: number): number {
  let at = start + 1;
  for (;;) {
    const quote = body.indexOf(QUOTE, at);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (body[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

/** A resumable check of {@link assertJsonShape}; see {@link createJsonShapeScan}. */
export interface JsonShapeScan {
  /**
   * Scans on up to byte `until` (a string that starts before it is read to its end); throws
   * `PAYLOAD_TOO_DEEP` or `DUPLICATE_KEY`.
   */
  scan(until?: number): void;
  /** True once the whole body is scanned, or the scan stopped at something that cannot be JSON. */
  readonly done: boolean;
  /** True when the whole body was scanned, nothing in it was out of place, and every object and array closed. */
  readonly balanced: boolean;
  /** The recorded top-level containers (one, in a body that is JSON). */
  readonly roots: readonly JsonNode[];
}

/**
 * The check of {@link assertJsonShape}, resumable: each `scan(until)` goes on from where the last
 * stopped, so a large body can be checked a slice at a time between turns of the event loop. With
 * `recordDepth`, it also notes where the containers of the first `recordDepth` levels and their
 * members lie (`roots`), so that the body can then be parsed a member at a time.
 */
export function createJsonShapeScan(body: Buffer, maxDepth = MAX_ADMIN_JSON_DEPTH, recordDepth = 0): JsonShapeScan {
  const roots: JsonNode[] = [];
  const stack: Frame[] = [];
  let at = 0;
  // False once the scan met something that cannot be JSON, where it stopped: the parser refuses it.
  let wellFormed = true;

  /** Reads the string opening at `start`, checks it when it is a key, and returns the offset after it. */
  function string(start: number): number {
    const end = closingQuote(body, start);
    if (end === -1) {
      wellFormed = false;
      return body.length;
    }
    const frame = stack[stack.length - 1];
    if (frame?.keys !== undefined && frame.expectKey) {
      let key = body.toString('utf8', start + 1, end);
      if (key.includes('\\')) {
        try {
          // `"a"` and `"\u0061"` are the same key.
          key = JSON.parse(body.toString('utf8', start, end + 1)) as string;
        } catch {
          wellFormed = false;
          return end + 1;
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
      if (frame.node !== undefined) frame.node.keys[frame.node.commas.length] = [start, end];
    }
    return end + 1;
  }

  function open(offset: number, isObject: boolean): void {
    if (stack.length >= maxDepth) {
      throw new GatewayError(
        'PAYLOAD_TOO_DEEP',
        `request body nests objects and arrays deeper than ${maxDepth} levels (at ${clip(pointer(stack, stack.length) || '/')})`,
        { data: { max_depth: maxDepth } },
      );
    }
    let node: JsonNode | undefined;
    if (stack.length < recordDepth) {
      node = { isObject, open: offset, close: -1, commas: [], keys: [], members: [] };
      const parent = stack[stack.length - 1];
      if (parent === undefined) roots.push(node);
      else if (parent.node !== undefined) parent.node.members[parent.node.commas.length] = node;
    }
    stack.push({ keys: isObject ? new Set() : undefined, expectKey: isObject, key: '', index: 0, node });
  }

  return {
    roots,
    get done() {
      return at >= body.length || !wellFormed;
    },
    get balanced() {
      return wellFormed && at >= body.length && stack.length === 0;
    },
    scan(until = Number.POSITIVE_INFINITY) {
      const end = Math.min(until, body.length);
      let i = at;
      while (i < end && wellFormed) {
        const byte = body[i]!;
        if (byte === QUOTE) {
          i = string(i);
          continue;
        }
        if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
          open(i, byte === OPEN_OBJECT);
        } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
          const frame = stack.pop();
          if (frame === undefined) wellFormed = false;
          else if (frame.node !== undefined) frame.node.close = i;
        } else if (byte === COMMA) {
          const frame = stack[stack.length - 1];
          if (frame?.keys !== undefined) frame.expectKey = true;
          else if (frame !== undefined) frame.index += 1;
          frame?.node?.commas.push(i);
        }
        i += 1;
      }
      at = i;
    },
  };
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
  createJsonShapeScan(body, maxDepth).scan();
}
