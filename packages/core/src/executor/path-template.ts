import { GatewayError } from '@dynmcp/plugin';

/** A placeholder of a {@link PathTemplate}. */
export interface PathPlaceholder {
  readonly name: string;
}

/** A compiled path template such as `/v1/users/{id}/posts/:post`. */
export interface PathTemplate {
  readonly source: string;
  /** Literal text (sent as written) and placeholders, in order. */
  readonly parts: readonly (string | PathPlaceholder)[];
  /** Placeholder names, each once, in order of first use. */
  readonly names: readonly string[];
  /** Everything before the first placeholder; the built path must start with it. */
  readonly staticPrefix: string;
}

/** The outcome of {@link expandPathTemplate}: the encoded path, or a message for the model. */
export type PathExpansion = { ok: true; path: string } | { ok: false; message: string };

// `{name}` follows OpenAPI, whose parameter names may contain `-` and `.`.
const BRACE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// `:name` follows Express: word characters only, so `/:id.json` has the literal suffix `.json`.
const COLON_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function invalid(path: string, why: string): GatewayError {
  return new GatewayError('INVALID_PAYLOAD', `tds_ext_info.path "${path}": ${why}`);
}

/**
 * Compiles a path template. `{name}` may stand anywhere; `:name` only right after a `/` (a whole
 * segment, or a segment with a literal suffix such as `/:id.json`), so that a colon inside a segment
 * stays literal, as in Google-style `/v1/{model}:generateContent`.
 * @throws GatewayError `INVALID_PAYLOAD` saying what to fix.
 */
export function compilePathTemplate(path: string): PathTemplate {
  if (!path.startsWith('/')) throw invalid(path, 'must start with "/"');
  if (path.includes('?') || path.includes('#')) {
    throw invalid(path, 'must not contain "?" or "#"; pass query parameters as arguments');
  }
  const parts: (string | PathPlaceholder)[] = [];
  let literal = '';
  let index = 0;
  while (index < path.length) {
    const char = path[index] as string;
    if (char === '{') {
      const end = path.indexOf('}', index);
      const name = end < 0 ? '' : path.slice(index + 1, end);
      if (!BRACE_NAME.test(name)) throw invalid(path, 'each "{" must enclose a parameter name and be closed by "}"');
      parts.push(literal, { name });
      literal = '';
      index = end + 1;
    } else if (char === '}') {
      throw invalid(path, 'has a "}" without a matching "{"');
    } else if (char === ':' && path[index - 1] === '/') {
      const name = COLON_NAME.exec(path.slice(index + 1))?.[0];
      if (name === undefined) throw invalid(path, '":" after "/" must be followed by a parameter name');
      parts.push(literal, { name });
      literal = '';
      index += 1 + name.length;
    } else {
      literal += char;
      index += 1;
    }
  }
  parts.push(literal);
  const compact = parts.filter((part) => part !== '');
  const firstPlaceholder = compact.findIndex((part) => typeof part !== 'string');
  const staticPrefix = (firstPlaceholder < 0 ? compact : compact.slice(0, firstPlaceholder)).join('');
  assertNormalised(path, compact);
  const names = [...new Set(compact.flatMap((part) => (typeof part === 'string' ? [] : [part.name])))];
  return { source: path, parts: compact, names, staticPrefix };
}

// The URL parser rewrites dot segments (also `%2e`), backslashes and characters it must percent-encode.
// A template it would rewrite could not be checked against its own prefix at call time, so refuse it now.
function assertNormalised(path: string, parts: readonly (string | PathPlaceholder)[]): void {
  const probe = parts.map((part) => (typeof part === 'string' ? part : 'x')).join('');
  if (new URL(probe, 'http://probe.invalid').pathname !== probe) {
    throw invalid(path, 'must be in normalised form: no "." or ".." segments, no spaces, backslashes or non-ASCII (percent-encode them)');
  }
}

// A "." or ".." piece, its dots written or percent-encoded (`%2e`).
const DOT_PIECE = /^(?:\.|%2e){1,2}$/i;

/**
 * True when `path`, as a server that decodes `%2F` and `%5C` before resolving dot segments reads it
 * (nginx with its default settings, many frameworks), holds a `.` or `..` segment: such a server
 * would remove or climb a segment that the gateway sent inside one, say `/v1/users/..%2F..%2Fadmin`.
 */
export function hasHiddenDotSegment(path: string): boolean {
  // Most values (ids, names) hold no dot at all, written or encoded: no split on the hot path.
  if (!path.includes('.') && !(path.includes('%') && /%2e/i.test(path))) return false;
  return path.split(/[/\\]|%2f|%5c/i).some((piece) => DOT_PIECE.test(piece));
}

/**
 * Fills the placeholders from `valueOf(name)`. Values are strings, finite numbers or booleans,
 * encoded with `encodeURIComponent`, so `/`, `?`, `#` and `%` inside a value stay inside its segment.
 * Empty is refused, and so is a value with a `.` or `..` piece between its slashes (`..`,
 * `../admin`, `a/%2e%2e/b`): the gateway would send it inside one segment, but servers that decode
 * `%2F` would then climb out of the tool's path.
 */
export function expandPathTemplate(template: PathTemplate, valueOf: (name: string) => unknown): PathExpansion {
  let path = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      path += part;
      continue;
    }
    const value = valueOf(part.name);
    if (value === undefined || value === null) return { ok: false, message: `missing path parameter "${part.name}"` };
    const isScalar = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!isScalar) {
      return { ok: false, message: `path parameter "${part.name}" must be a string, a finite number or a boolean` };
    }
    const text = String(value);
    if (text === '') return { ok: false, message: `path parameter "${part.name}" must not be empty` };
    if (hasHiddenDotSegment(text)) {
      return { ok: false, message: `path parameter "${part.name}" must not be "." or "..", nor hold such a piece between slashes (as in "../x")` };
    }
    try {
      path += encodeURIComponent(text);
    } catch {
      // encodeURIComponent throws URIError on lone surrogates.
      return { ok: false, message: `path parameter "${part.name}" is not well-formed Unicode` };
    }
  }
  return { ok: true, path };
}
