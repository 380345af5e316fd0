import { createHash } from 'node:crypto';

/** Longest tool name produced; MCP allows 128, several clients stop at 64. */
export const MAX_TOOL_NAME = 64;
/** Longest argument name produced (what clients accept as a property name). */
export const MAX_ARGUMENT_NAME = 64;

const SAFE_ARGUMENT = /^[A-Za-z0-9_-]{1,64}$/;

/** Eight hex digits of SHA-256 over `text`: stable across imports, unlike a counter. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

function clean(text: string, allowed: RegExp): string {
  return text.replace(allowed, '_').replace(/_{2,}/g, '_').replace(/^[_.]+|[_.]+$/g, '');
}

/** `name` cut to `max` with `_<hash>` at its end, so two long names sharing a start stay apart. */
function withHash(name: string, hash: string, max: number): string {
  return `${name.slice(0, max - hash.length - 1).replace(/[_.-]+$/, '')}_${hash}`;
}

/** `get_pets_id` for `GET /pets/{id}`: the name of an operation without an `operationId`. */
export function nameFromRoute(method: string, path: string): string {
  return clean(`${method.toLowerCase()}_${path.replace(/[{}]/g, '')}`, /[^A-Za-z0-9_.-]+/g) || method.toLowerCase();
}

/**
 * Gives each operation of one import a tool name fitting `^[A-Za-z0-9_.-]{1,64}$`, unique within
 * the import. A name that had to be shortened or de-duplicated ends in a hash of the operation's
 * method and path, so importing the same document again gives the same names.
 */
export function createToolNamer(warn: (message: string) => void): (operation: { method: string; path: string; operationId?: string }) => string {
  const taken = new Set<string>();
  return ({ method, path, operationId }) => {
    const route = `${method.toUpperCase()} ${path}`;
    const wanted = operationId ?? nameFromRoute(method, path);
    let name = clean(wanted, /[^A-Za-z0-9_.-]+/g) || nameFromRoute(method, path);
    const hash = shortHash(route);
    if (name.length > MAX_TOOL_NAME) name = withHash(name, hash, MAX_TOOL_NAME);
    // Names compare case-insensitively: some clients fold case, and two tools differing only in case confuse models.
    if (taken.has(name.toLowerCase())) name = withHash(name, hash, MAX_TOOL_NAME);
    taken.add(name.toLowerCase());
    if (name !== wanted) {
      const source = operationId === undefined ? 'generated name' : 'operationId';
      warn(`${route}: ${source} "${wanted.slice(0, 200)}" became tool name "${name}" (allowed: letters, digits, _ . -, at most ${MAX_TOOL_NAME}, unique)`);
    }
    return name;
  };
}

/** True when `name` can be an argument name as it is. */
export function isSafeArgumentName(name: string): boolean {
  return SAFE_ARGUMENT.test(name);
}

/**
 * A safe argument name for a parameter whose name MCP clients may refuse (`filter[x]`, `ids[]`,
 * `a.b`), not in `taken`: `filter_x`, or with `_<hash>` of the real name when that is taken.
 */
export function safeArgumentName(name: string, taken: ReadonlySet<string>): string {
  if (isSafeArgumentName(name) && !taken.has(name)) return name;
  let safe = clean(name, /[^A-Za-z0-9_-]+/g).slice(0, MAX_ARGUMENT_NAME) || 'param';
  if (taken.has(safe) || safe === name) safe = withHash(safe, shortHash(name), MAX_ARGUMENT_NAME);
  return safe;
}
