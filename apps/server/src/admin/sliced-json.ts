import { slicer } from '@dynmcp/common';
import { createJsonShapeScan, MAX_ADMIN_JSON_DEPTH, type JsonNode } from './json-body-guard.js';

/** Bytes scanned between two looks at the clock. */
const SCAN_STEP_BYTES = 64 * 1024;
/**
 * Containers smaller than this are parsed by one `JSON.parse` (well under a millisecond); larger
 * ones member by member.
 */
const PIECE_BYTES = 64 * 1024;
/**
 * Levels whose containers the scan records, so that they can be parsed member by member: a batch's
 * body, its operations, each operation, its definition and that definition's schemas; an import's
 * document down to each path item and component schema. What lies deeper is parsed whole.
 */
const RECORD_DEPTH = 5;

const COLON = 0x3a;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** Thrown where the body is not JSON; the caller answers as for any body `JSON.parse` refuses. */
export class NotJsonError extends Error {
  constructor() {
    super('request body is not valid JSON');
  }
}

const isBlankByte = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * Checks and parses a JSON body (UTF-8, a leading BOM already stripped: `body` starts at the value
 * or at blanks before it) as {@link assertJsonShape} and `JSON.parse` would, to the same value and
 * the same errors, but in slices of a few milliseconds: a body of megabytes (a batch of a thousand
 * tools, a large API document) would otherwise hold the event loop for tens of milliseconds in each
 * of the two passes.
 *
 * The shape scan notes where the containers of the first levels and their members lie; a
 * container above {@link PIECE_BYTES} is then rebuilt member by member, each member parsed by
 * `JSON.parse` (or rebuilt the same way), the bytes between members (blanks, one colon or comma)
 * checked here. Duplicate keys are refused by the scan before, so no member can overwrite
 * another. Throws the scan's `GatewayError`s, or {@link NotJsonError}.
 */
export async function parseJsonInSlices(body: Buffer, maxDepth = MAX_ADMIN_JSON_DEPTH): Promise<unknown> {
  // The body's last bytes arrived (and were joined into one buffer) in this turn: the first slice starts in the next.
  await new Promise((resolve) => setImmediate(resolve));
  const pause = slicer();
  const scan = createJsonShapeScan(body, maxDepth, RECORD_DEPTH);
  for (let until = SCAN_STEP_BYTES; !scan.done; until += SCAN_STEP_BYTES) {
    scan.scan(until);
    await pause();
  }
  if (!scan.balanced || scan.roots.length > 1) throw new NotJsonError();

  const blank = (from: number, to: number) => {
    for (let i = from; i < to; i += 1) if (!isBlankByte(body[i])) return false;
    return true;
  };
  const piece = (from: number, to: number): unknown => {
    try {
      return JSON.parse(body.toString('utf8', from, to));
    } catch {
      throw new NotJsonError();
    }
  };

  /** One member's value, from `from` (after its comma, colon or bracket) to `to` (its comma or bracket). */
  async function member(node: JsonNode | undefined, from: number, to: number): Promise<unknown> {
    if (node === undefined) return piece(from, to);
    if (node.open < from || !blank(from, node.open) || !blank(node.close + 1, to)) throw new NotJsonError();
    return container(node);
  }

  async function container(node: JsonNode): Promise<unknown> {
    if (node.close === -1 || body[node.close] !== (node.isObject ? CLOSE_OBJECT : CLOSE_ARRAY)) throw new NotJsonError();
    if (node.close - node.open < PIECE_BYTES) return piece(node.open, node.close + 1);
    const { commas } = node;
    if (commas.length === 0 && blank(node.open + 1, node.close)) return node.isObject ? {} : [];
    const items: unknown[] = [];
    const object: Record<string, unknown> = {};
    for (let index = 0; index <= commas.length; index += 1) {
      await pause();
      const from = index === 0 ? node.open + 1 : commas[index - 1]! + 1;
      const to = index === commas.length ? node.close : commas[index]!;
      if (!node.isObject) {
        items.push(await member(node.members[index], from, to));
        continue;
      }
      const key = node.keys[index];
      if (key === undefined || !blank(from, key[0])) throw new NotJsonError();
      const name = piece(key[0], key[1] + 1) as string;
      let colon = key[1] + 1;
      while (isBlankByte(body[colon])) colon += 1;
      if (body[colon] !== COLON || colon >= to) throw new NotJsonError();
      const value = await member(node.members[index], colon + 1, to);
      // As JSON.parse does: "__proto__" is a key like any other, never the object's prototype.
      if (name === '__proto__') Object.defineProperty(object, name, { value, writable: true, enumerable: true, configurable: true });
      else object[name] = value;
    }
    return node.isObject ? object : items;
  }

  const root = scan.roots[0];
  return root === undefined ? piece(0, body.length) : member(root, 0, body.length);
}
