import type { Principal } from '@dynmcp/plugin';
import { encodeForm, encodeMultipart } from './body-encoding.js';
import type { EncodedBody } from './body-encoding.js';
import { resolveEnvTemplate } from './env-template.js';
import type { TemplateValues } from './env-template.js';
import { ARGUMENT_GROUPS, isAllowedHeaderName } from './http-tool-config.js';
import type { CompiledHttpTool, HttpMethod, QueryParameter } from './http-tool-config.js';
import { expandPathTemplate } from './path-template.js';

/** An upstream request, ready for the HTTP client. */
export interface BuiltRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  /** Lower-case names. Values may hold secrets: never log or echo them. */
  readonly headers: Readonly<Record<string, string>>;
  /** JSON or form-urlencoded text, multipart bytes, or `undefined` for no body. */
  readonly body: string | Buffer | undefined;
  /**
   * The configured query parameters (`ext_info.query`) with their resolved values, for removal
   * wherever the upstream URL could reach a result or a log; `undefined` when the tool has none.
   */
  readonly secretQuery?: readonly { readonly name: string; readonly value: string }[];
}

/** Limits of {@link buildHttpRequest}. */
export interface RequestLimits {
  /** Largest form-urlencoded or multipart body, in bytes, once encoded. */
  maxBodyBytes: number;
}

/** The outcome of {@link buildHttpRequest}: a request, or a message the model can act on. */
export type RequestBuild = { ok: true; request: BuiltRequest } | { ok: false; message: string };

/** Arguments sorted into the four places a request carries them. */
interface SortedArguments {
  path(name: string): unknown;
  query: Readonly<Record<string, unknown>>;
  /** `undefined` means no body; `null` is sent as the JSON text `null`. */
  body: unknown;
  headers: Readonly<Record<string, unknown>>;
}

type Sorting = { ok: true; sorted: SortedArguments } | { ok: false; message: string };

// Methods whose flat arguments travel in the query string: they have no body semantics.
const QUERY_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);
// What Node accepts in a header value (it throws on anything else): no CR, LF, NUL or other controls.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const isGroup = (key: string): boolean => (ARGUMENT_GROUPS as readonly string[]).includes(key);
const isPresent = (value: unknown): boolean => value !== undefined && value !== null;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Per call, for schemas that declare no properties: grouped when the arguments look grouped. */
function detectGrouped(args: Record<string, unknown>): boolean {
  const entries = Object.entries(args);
  return entries.length > 0 && entries.every(([key, value]) => isGroup(key) && (key === 'body' || isPlainObject(value)));
}

function sortGrouped(args: Record<string, unknown>): Sorting {
  const unexpected = Object.keys(args).find((key) => !isGroup(key));
  if (unexpected !== undefined) {
    return { ok: false, message: `unexpected argument ${JSON.stringify(unexpected)}: arguments are grouped as path, query, body and headers` };
  }
  for (const group of ['path', 'query', 'headers'] as const) {
    if (args[group] !== undefined && !isPlainObject(args[group])) {
      return { ok: false, message: `argument "${group}" must be an object` };
    }
  }
  const path = (args['path'] ?? {}) as Record<string, unknown>;
  return {
    ok: true,
    sorted: {
      path: (name) => (Object.hasOwn(path, name) ? path[name] : undefined),
      query: (args['query'] ?? {}) as Record<string, unknown>,
      body: args['body'],
      headers: (args['headers'] ?? {}) as Record<string, unknown>,
    },
  };
}

function sortFlat(tool: CompiledHttpTool, args: Record<string, unknown>): Sorting {
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (!tool.path.names.includes(key) && value !== undefined) rest[key] = value;
  }
  const inQuery = QUERY_METHODS.has(tool.method);
  return {
    ok: true,
    sorted: {
      path: (name) => (Object.hasOwn(args, name) ? args[name] : undefined),
      query: inQuery ? rest : {},
      // No remaining arguments means no body rather than `{}`: a bodiless POST is the more common API.
      body: inQuery || Object.keys(rest).length === 0 ? undefined : rest,
      headers: {},
    },
  };
}

function missingRequired(tool: CompiledHttpTool, args: Record<string, unknown>, grouped: boolean): string[] {
  return tool.requiredParams.filter((name) => {
    // Own properties only: a parameter named `constructor` or `toString` is not present by inheritance.
    if (Object.hasOwn(args, name) && isPresent(args[name])) return false;
    if (!grouped) return true;
    return !ARGUMENT_GROUPS.some((group) => {
      const values = args[group];
      return isPlainObject(values) && Object.hasOwn(values, name) && isPresent(values[name]);
    });
  });
}

function queryText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

// The delimiter of a non-exploded array or object, per style (OpenAPI 3.1 §4.8.12.4).
const DELIMITERS = { form: ',', spaceDelimited: ' ', pipeDelimited: '|', deepObject: ',' } as const;

/** Appends one argument serialised as its `ext_info.parameters.query` entry says. */
function appendStyled(params: URLSearchParams, value: unknown, parameter: QueryParameter): void {
  const { name, style, explode } = parameter;
  if (isPlainObject(value)) {
    const entries = Object.entries(value).filter(([, item]) => isPresent(item));
    if (style === 'deepObject') {
      for (const [key, item] of entries) {
        for (const one of Array.isArray(item) ? item : [item]) if (isPresent(one)) params.append(`${name}[${key}]`, queryText(one));
      }
    } else if (explode) {
      for (const [key, item] of entries) params.append(key, queryText(item));
    } else if (entries.length > 0) {
      params.append(name, entries.flatMap(([key, item]) => [key, queryText(item)]).join(DELIMITERS[style]));
    }
    return;
  }
  const items = (Array.isArray(value) ? value : [value]).filter(isPresent);
  if (explode || !Array.isArray(value)) {
    for (const item of items) params.append(name, queryText(item));
  } else if (items.length > 0) {
    params.append(name, items.map(queryText).join(DELIMITERS[style]));
  }
}

/**
 * Arguments with an `ext_info.parameters.query` entry are sent under its name and style. Others:
 * arrays repeat the key, objects are sent as JSON text. `null` and `undefined` are left out.
 */
function buildQuery(query: Readonly<Record<string, unknown>>, styled: ReadonlyMap<string, QueryParameter>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (!isPresent(value)) continue;
    const parameter = styled.get(key);
    if (parameter !== undefined) {
      appendStyled(params, value, parameter);
      continue;
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      if (isPresent(item)) params.append(key, queryText(item));
    }
  }
  return params;
}

type HeaderBuild = { ok: true; headers: Record<string, string> } | { ok: false; message: string };

// Messages name headers and variables but never carry a value: values are usually credentials.
function buildHeaders(
  tool: CompiledHttpTool,
  fromArgs: Readonly<Record<string, unknown>>,
  values: TemplateValues,
  contentType: string | undefined,
  caller: Principal | undefined,
): HeaderBuild {
  const headers: Record<string, string> = { 'user-agent': 'dynmcp' };
  if (contentType !== undefined) headers['content-type'] = contentType;
  const configured = new Set<string>();
  for (const { name, value } of tool.headers) {
    const resolved = resolveEnvTemplate(value, values, caller);
    if (!resolved.ok) return { ok: false, message: `${resolved.problem} (needed by header "${name}" of this tool)` };
    if (!HEADER_VALUE.test(resolved.value)) {
      return {
        ok: false,
        message: `header "${name}" of this tool resolved to a value a header cannot carry (control characters, or characters beyond Latin-1 such as emoji); check its variables, secrets and stored credentials`,
      };
    }
    headers[name] = resolved.value;
    configured.add(name);
  }
  for (const [argument, value] of Object.entries(fromArgs)) {
    if (!isPresent(value)) continue;
    const rawName = tool.headerNames.get(argument) ?? argument;
    const name = rawName.toLowerCase();
    if (!isAllowedHeaderName(rawName)) return { ok: false, message: `header ${JSON.stringify(rawName)} may not be set` };
    if (configured.has(name)) {
      return { ok: false, message: `header "${name}" is set by the tool definition and cannot be overridden` };
    }
    if (typeof value !== 'string') return { ok: false, message: `header "${name}" must be a string` };
    if (!HEADER_VALUE.test(value)) {
      return { ok: false, message: `header "${name}" has an invalid value: control characters such as CR and LF, and characters beyond Latin-1, are not allowed` };
    }
    headers[name] = value;
  }
  return { ok: true, headers };
}

/** The body as `ext_info.body.content_type` says, within `limits`; JSON needs no cap (it is no larger than the arguments). */
function encodeBody(tool: CompiledHttpTool, body: unknown, limits: RequestLimits | undefined): EncodedBody {
  if (tool.bodyContentType === 'application/json') return { ok: true, body: JSON.stringify(body), contentType: 'application/json' };
  const encoded = tool.bodyContentType === 'multipart/form-data' ? encodeMultipart(body) : encodeForm(body);
  if (encoded.ok && limits !== undefined && Buffer.byteLength(encoded.body) > limits.maxBodyBytes) {
    return { ok: false, message: `the encoded ${tool.bodyContentType} body is larger than ${limits.maxBodyBytes} bytes; nothing was sent` };
  }
  return encoded;
}

type QueryBuild = { ok: true; query: string; secretQuery: BuiltRequest['secretQuery'] } | { ok: false; message: string };

/** Argument query parameters, then the configured ones (`ext_info.query`), which arguments may not shadow. */
function buildFullQuery(
  tool: CompiledHttpTool,
  fromArgs: Readonly<Record<string, unknown>>,
  values: TemplateValues,
  caller: Principal | undefined,
): QueryBuild {
  const params = buildQuery(fromArgs, tool.queryParameters);
  if (tool.queryCredentials.length === 0) return { ok: true, query: params.toString(), secretQuery: undefined };
  const secretQuery: { name: string; value: string }[] = [];
  for (const { name, value } of tool.queryCredentials) {
    if (params.has(name)) return { ok: false, message: `query parameter ${JSON.stringify(name)} is set by the tool definition and cannot be overridden` };
    const resolved = resolveEnvTemplate(value, values, caller);
    if (!resolved.ok) return { ok: false, message: `${resolved.problem} (needed by query parameter ${JSON.stringify(name)} of this tool)` };
    secretQuery.push({ name, value: resolved.value });
  }
  for (const { name, value } of secretQuery) params.append(name, value);
  return { ok: true, query: params.toString(), secretQuery };
}

/**
 * Builds the upstream request of one call: sorts the arguments (grouped or flat), checks required
 * parameters, encodes path and query values and the body (`ext_info.body.content_type`, encoded
 * forms capped by `limits`), resolves the templates of headers and configured query parameters
 * (`${env:…}`, `${secret:…}`, and `${claim:…}`/`${principal:…}` of `caller`) through `values` and finally
 * checks that the URL stayed on the configured origin and under the template's static prefix.
 * Nothing here does I/O; every refusal is a message meant for the model.
 */
export function buildHttpRequest(
  tool: CompiledHttpTool,
  args: Record<string, unknown>,
  values: TemplateValues,
  limits?: RequestLimits,
  /** The call's principal, for `${claim:…}` and `${principal:…}`; `undefined` for an anonymous caller. */
  caller?: Principal,
): RequestBuild {
  const grouped = tool.argumentStyle === 'auto' ? detectGrouped(args) : tool.argumentStyle === 'grouped';
  const missing = missingRequired(tool, args, grouped);
  if (missing.length > 0) {
    return { ok: false, message: `missing required parameter(s): ${missing.map((name) => JSON.stringify(name)).join(', ')}` };
  }
  const sorting = grouped ? sortGrouped(args) : sortFlat(tool, args);
  if (!sorting.ok) return sorting;
  const { sorted } = sorting;

  const expansion = expandPathTemplate(tool.path, sorted.path);
  if (!expansion.ok) return expansion;
  if (sorted.body !== undefined && tool.method === 'HEAD') return { ok: false, message: 'a HEAD request cannot carry a body' };
  const encoded = sorted.body === undefined ? undefined : encodeBody(tool, sorted.body, limits);
  if (encoded !== undefined && !encoded.ok) return encoded;
  const headerBuild = buildHeaders(tool, sorted.headers, values, encoded?.contentType, caller);
  if (!headerBuild.ok) return headerBuild;
  // A multipart boundary or a form type must reach the upstream as encoded, whatever a header says.
  if (encoded !== undefined && tool.bodyContentType !== 'application/json') headerBuild.headers['content-type'] = encoded.contentType;

  // Concatenation, not `new URL(path, origin)`: a path starting with `//` must not become a host.
  const url = new URL(tool.origin + expansion.path);
  const queryBuild = buildFullQuery(tool, sorted.query, values, caller);
  if (!queryBuild.ok) return queryBuild;
  if (queryBuild.query !== '') url.search = queryBuild.query;
  const staysInside =
    url.origin === tool.origin && url.pathname === expansion.path && url.pathname.startsWith(tool.path.staticPrefix);
  if (!staysInside) return { ok: false, message: 'the arguments would move the request outside the tool\'s configured path' };
  const request: BuiltRequest = { method: tool.method, url, headers: headerBuild.headers, body: encoded?.body };
  return { ok: true, request: queryBuild.secretQuery === undefined ? request : { ...request, secretQuery: queryBuild.secretQuery } };
}
