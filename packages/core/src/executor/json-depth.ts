/**
 * Deepest nesting of arrays and objects an upstream JSON answer may have: serde_json's default
 * recursion limit, far beyond what real APIs send. `JSON.parse` copes with any depth, but what
 * handles the value afterwards (output schema validation, `JSON.stringify` of the result) recurses
 * once per level, and a few thousand levels overflow the stack.
 */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * True when the JSON text in `body` nests arrays and objects deeper than `maxDepth`. One pass over
 * the bytes, no recursion, no allocation; brackets inside strings do not count. Bytes of multi-byte
 * UTF-8 characters are all 0x80 or above, so they are never mistaken for brackets or quotes. The
 * text need not be valid: the parser judges that afterwards.
 */
export function exceedsJsonDepth(body: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): boolean {
  // Each level takes at least one byte, so a short body cannot be too deep.
  if (body.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let index = 0; index < body.length; index += 1) {
    const byte = body[index];
    if (inString) {
      if (byte === BACKSLASH) index += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  return false;
}
