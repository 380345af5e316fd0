import type { ToolResult } from '@dynmcp/plugin';

/** The default of `mcp.maxResultBytes`: a tool result as sent, JSON-encoded, in bytes. */
export const DEFAULT_MAX_RESULT_BYTES = 32 * 1024 * 1024;

/** Bytes a JSON string of `length` UTF-16 units may take at most: `\u001f` is 6 bytes for 1 unit. */
const WORST_BYTES_PER_UNIT = 6;
/** Bytes a number, `true` or `false` may take at most (`-0.0000012345678901234567` is 25). */
const WORST_SCALAR_BYTES = 32;

/** How big a result is as sent: `exact`, or `atLeast` when a lower bound already passed the cap. */
export type ResultSize = { bytes: number; exact: boolean };

/**
 * The size of `result` as the gateway would send it, when that is over `cap`; `undefined` when it
 * fits. Cheap on the hot path: one walk sums the lengths of the strings (a lower bound, one byte per
 * unit) and the worst case of their escapes (an upper bound); only a result whose bounds straddle
 * the cap is encoded to measure it exactly. A value JSON cannot encode (a cycle, a BigInt) counts
 * as over the cap: it could not be sent either.
 */
export function resultOverCap(result: ToolResult, cap: number): ResultSize | undefined {
  const { lower, upper, plain } = jsonBounds(result, cap);
  if (lower > cap) return { bytes: lower, exact: false };
  if (plain && upper <= cap) return undefined;
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(result));
  } catch {
    return { bytes: Number.POSITIVE_INFINITY, exact: false };
  }
  return bytes > cap ? { bytes, exact: true } : undefined;
}

/**
 * Lower and upper bounds of the JSON encoding's size, without encoding. `plain` is false when a
 * value is not plain JSON data (a Date, a Buffer, a class instance: their `toJSON` decides), and
 * the walk stops early once the lower bound passes `stopAbove`.
 */
function jsonBounds(value: unknown, stopAbove: number): { lower: number; upper: number; plain: boolean } {
  let lower = 0;
  let upper = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    switch (typeof node) {
      case 'string':
        lower += node.length + 2;
        upper += node.length * WORST_BYTES_PER_UNIT + 2;
        break;
      case 'number':
      case 'boolean':
        lower += 1;
        upper += WORST_SCALAR_BYTES;
        break;
      case 'object': {
        if (node === null) {
          lower += 4;
          upper += 4;
          break;
        }
        if (Array.isArray(node)) {
          lower += 2 + Math.max(0, node.length - 1);
          upper += 2 + node.length;
          // An array hole or `undefined` encodes as null: counted by the null bound above or below.
          for (let index = 0; index < node.length; index += 1) pending.push(node[index] ?? null);
          break;
        }
        const proto = Object.getPrototypeOf(node) as unknown;
        if ((proto !== Object.prototype && proto !== null) || 'toJSON' in node) return { lower, upper, plain: false };
        upper += 2;
        lower += 2;
        for (const key in node) {
          const child = (node as Record<string, unknown>)[key];
          // JSON leaves these keys out.
          if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue;
          lower += key.length + 3;
          upper += key.length * WORST_BYTES_PER_UNIT + 4;
          pending.push(child);
        }
        break;
      }
      case 'undefined':
        break;
      default:
        // bigint and friends: JSON.stringify decides (and throws for a bigint).
        return { lower, upper, plain: false };
    }
    if (lower > stopAbove) break;
  }
  return { lower, upper, plain: true };
}
