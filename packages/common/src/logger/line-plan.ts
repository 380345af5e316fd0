import { EOL } from 'node:os';

/**
 * Log lines of primitive values, built from a plan instead of through winston's format.
 *
 * Nearly every line a busy gateway writes (the tool call line, the access line) has the same
 * keys every time and only strings and numbers as values. winston's format builds each one from
 * scratch: it copies the entry, sorts its keys, configures a new JSON stringifier and runs a
 * replacer function on every value. Measured in a gateway at full load, that was most of what the
 * info-level line of every tool call cost. A plan does the key work once per logger and key list:
 * the keys in sorted order, each with its escaped `"key":` prefix, and the logger's own bindings
 * already serialised. A line then costs one walk over the call's keys (to find its plan), a
 * JSON.stringify per string value and a string concatenation.
 *
 * The bytes are exactly those of the format the gateway configures (timestamp, redaction,
 * logform's JSON): keys in code-unit order as `safe-stable-stringify` sorts them, strings escaped
 * as JSON.stringify does, numbers that are not finite as `null`, a bigint as its decimal string in
 * quotes (logform's replacer), `undefined` left out, secret keys `"[redacted]"` whatever their
 * value. `create-logger.test.ts` compares both, byte for byte. Whatever a plan does not cover
 * returns `undefined`, and the caller formats that line with winston: a value that is an object,
 * metadata that is not a plain object, a metadata key `level`, `message` or `timestamp` (the
 * format gives those their own meaning), and keys that look like array indexes.
 */

/** Keys whose values never reach a log line, wherever they appear in the metadata. */
export const SECRET_KEYS = /^(authorization|x-api-key|api[-_]?key|password|secret|token|cookie)$/i;

const REDACTED = '"[redacted]"';
/** Keys the format sets itself. */
const RESERVED = new Set(['level', 'message', 'timestamp']);
/** A key an object orders before all others, whatever order it was set in. */
const INDEX_KEY = /^(?:0|[1-9]\d*)$/;
/** Plans kept per logger: one per distinct key list of its calls' metadata. */
const PLANS_PER_LOGGER = 8;

/** The JSON text of a primitive; `undefined` for `undefined` (left out); `null` for anything else. */
function primitiveJson(value: unknown): string | undefined | null {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `"${value.toString()}"`;
    case 'undefined':
      return undefined;
    default:
      return value === null ? 'null' : null;
  }
}

let isoMs = Number.NaN;
let isoText = '';
/** `new Date().toISOString()`, made once per millisecond. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/** Where a part's value comes from: fixed text (a binding, a redaction), the call's metadata, or the line itself. */
type Source = 'text' | 'meta' | 'level' | 'message' | 'timestamp';

interface Part {
  readonly prefix: string;
  readonly source: Source;
  readonly key: string;
  readonly text: string | undefined;
}

interface Plan {
  readonly metaKeys: readonly string[];
  readonly parts: readonly Part[];
}

/** Builds the lines of one logger (fixed bindings); `undefined` for a line it does not cover. */
export type LinePlanner = (level: string, message: string, meta: Record<string, unknown> | undefined) => string | undefined;

/** The planner of a logger with these bindings, or `undefined` when its bindings are not primitives. */
export function createLinePlanner(bindings: Readonly<Record<string, unknown>>): LinePlanner | undefined {
  const fixed = new Map<string, string | undefined>();
  for (const key of Object.keys(bindings)) {
    if (RESERVED.has(key) || INDEX_KEY.test(key)) return undefined;
    const text = SECRET_KEYS.test(key) ? REDACTED : primitiveJson(bindings[key]);
    if (text === null) return undefined;
    fixed.set(key, text);
  }
  const plans: Plan[] = [];
  let replace = 0;

  function planOf(meta: Record<string, unknown> | undefined): Plan | undefined {
    search: for (const plan of plans) {
      let index = 0;
      for (const key in meta) {
        if (plan.metaKeys[index++] !== key) continue search;
      }
      if (index === plan.metaKeys.length) return plan;
    }
    const metaKeys = meta === undefined ? [] : Object.keys(meta);
    for (const key of metaKeys) if (RESERVED.has(key) || INDEX_KEY.test(key)) return undefined;
    const fromMeta = new Set(metaKeys);
    const keys = [...new Set([...fixed.keys(), ...metaKeys, ...RESERVED])].sort();
    const parts: Part[] = [];
    for (const key of keys) {
      const prefix = `${JSON.stringify(key)}:`;
      if (SECRET_KEYS.test(key)) parts.push({ prefix, source: 'text', key, text: REDACTED });
      else if (fromMeta.has(key)) parts.push({ prefix, source: 'meta', key, text: undefined });
      else if (key === 'level') parts.push({ prefix, source: 'level', key, text: undefined });
      else if (key === 'message') parts.push({ prefix, source: 'message', key, text: undefined });
      else if (key === 'timestamp') parts.push({ prefix, source: 'timestamp', key, text: undefined });
      else if (fixed.get(key) !== undefined) parts.push({ prefix, source: 'text', key, text: fixed.get(key) });
    }
    const plan = { metaKeys, parts };
    if (plans.length < PLANS_PER_LOGGER) plans.push(plan);
    else plans[replace++ % PLANS_PER_LOGGER] = plan;
    return plan;
  }

  return (level, message, meta) => {
    if (meta !== undefined && Object.getPrototypeOf(meta) !== Object.prototype) return undefined;
    const plan = planOf(meta);
    if (plan === undefined) return undefined;
    let line = '';
    for (const part of plan.parts) {
      let text: string | undefined | null;
      switch (part.source) {
        case 'text':
          text = part.text;
          break;
        case 'meta':
          text = primitiveJson(meta?.[part.key]);
          if (text === null) return undefined;
          break;
        case 'level':
          text = JSON.stringify(level);
          break;
        case 'message':
          text = JSON.stringify(message);
          break;
        case 'timestamp':
          text = `"${isoNow()}"`;
          break;
      }
      if (text === undefined) continue;
      line += line === '' ? `{${part.prefix}${text}` : `,${part.prefix}${text}`;
    }
    return `${line}}${EOL}`;
  };
}
