import { GatewayError } from '@dynmcp/plugin';
import type { JsonObject, ToolDefinition } from '@dynmcp/plugin';
import { parseEnvTemplate } from './env-template.js';
import type { EnvTemplate } from './env-template.js';
import { compilePathTemplate } from './path-template.js';
import type { PathTemplate } from './path-template.js';
import { RESULT_MAPPINGS } from './response-mapper.js';
import type { ResultMapping, ResultMappingKind } from './response-mapper.js';

/** HTTP methods an `http` tool may use. TRACE and CONNECT are left out on purpose: no API needs them. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** One of {@link HTTP_METHODS}. */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** The four argument groups of the grouped convention, taken from the Rust project dynmcp. */
export const ARGUMENT_GROUPS = ['path', 'query', 'body', 'headers'] as const;

/** Upper bound of `ext_info.timeout_ms`: ten minutes. */
export const MAX_TIMEOUT_MS = 600_000;

/**
 * Header names neither a definition nor a call may set: hop-by-hop headers (RFC 9110 §7.6.1) and the
 * framing headers the HTTP client computes itself. Setting them would let a value smuggle a request.
 * And `__proto__`, a valid token that a plain object of headers cannot hold: it would be dropped
 * without a word.
 */
export const FORBIDDEN_HEADER_NAMES: ReadonlySet<string> = new Set([
  '__proto__',
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

// RFC 9110 §5.6.2 token.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * How a query argument is serialised: OpenAPI 3's query styles (OpenAPI 3.1 §4.8.12.4, "Style
 * Values"). `form` with `explode` is what the executor does for an argument it has no entry for.
 */
export const QUERY_STYLES = ['form', 'spaceDelimited', 'pipeDelimited', 'deepObject'] as const;
/** One of {@link QUERY_STYLES}. */
export type QueryStyle = (typeof QUERY_STYLES)[number];

/** `ext_info.parameters.query.<argument>`: the name sent on the wire and how the value is serialised. */
export interface QueryParameter {
  readonly name: string;
  readonly style: QueryStyle;
  readonly explode: boolean;
}

/**
 * How a tool's `body` argument is sent (`ext_info.body.content_type`). JSON is the default; the form
 * encodings are what OpenAPI operations that upload files or post HTML-style forms declare.
 */
export const BODY_CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'] as const;
/** One of {@link BODY_CONTENT_TYPES}. */
export type BodyContentType = (typeof BODY_CONTENT_TYPES)[number];

/** A configured query parameter (`ext_info.query`): the wire name and its value template. */
export interface QueryCredential {
  readonly name: string;
  readonly value: EnvTemplate;
}

/** How a tool's arguments are laid out; `auto` decides per call from the arguments themselves. */
export type ArgumentStyle = 'grouped' | 'flat' | 'auto';

/** A validated, precompiled `http` tool definition. */
export interface CompiledHttpTool {
  readonly method: HttpMethod;
  /** `scheme://host[:port]`, as `URL#origin` spells it. */
  readonly origin: string;
  /** The origin's host as `URL#hostname` spells it: canonical IPv4 (`0x7f.1` is `127.0.0.1`), IPv6 in brackets. */
  readonly hostname: string;
  /** The tool's name, for logs. */
  readonly name: string;
  readonly path: PathTemplate;
  /**
   * Where redirects may lead: the static part of the path template up to its last `/` before the
   * first placeholder (`/v1/users/{id}` and `/v1/users` give `/v1/`… see {@link redirectPrefixOf}).
   */
  readonly redirectPrefix: string;
  readonly requiredParams: readonly string[];
  /**
   * `ext_info.parameters.query`: query arguments whose wire name differs from the argument name
   * (`filter[status]`, `ids[]`: names MCP clients refuse as property names) or whose value is not
   * serialised as `form` + `explode`. Empty for most tools.
   */
  readonly queryParameters: ReadonlyMap<string, QueryParameter>;
  /** `ext_info.parameters.headers`: argument name → header name sent, for header names that are no safe argument names. */
  readonly headerNames: ReadonlyMap<string, string>;
  /** Configured headers, names lower-cased, values as env templates. */
  readonly headers: readonly { readonly name: string; readonly value: EnvTemplate }[];
  /**
   * `ext_info.query`: configured query parameters, usually an API key an OpenAPI `apiKey` scheme
   * puts `in: query`. Treated as secrets: kept out of results and logs (see http-executor.ts).
   */
  readonly queryCredentials: readonly QueryCredential[];
  /** `ext_info.body.content_type`: how the `body` argument is encoded; `application/json` by default. */
  readonly bodyContentType: BodyContentType;
  readonly timeoutMs: number | undefined;
  readonly maxResponseBytes: number | undefined;
  /** Extra attempts for idempotent methods after a 502/503/504 or a failed connection (0–3). */
  readonly retries: number;
  readonly argumentStyle: ArgumentStyle;
  readonly hasOutputSchema: boolean;
  /** `ext_info.result`: how the answer becomes content; `{ as: 'auto' }` when absent. */
  readonly result: ResultMapping;
}

/**
 * The path prefix a redirect must stay under: the template's static part (everything before the
 * first placeholder) cut after its last `/`. `/v1/users/{id}` gives `/v1/users/`, `/v1/emails` gives
 * `/v1/`, `/{id}` gives `/`. A tool's configured headers carry credentials meant for that API; a
 * redirect elsewhere on the same host (an admin path, another tenant) must not receive them.
 */
export function redirectPrefixOf(path: PathTemplate): string {
  return path.staticPrefix.slice(0, path.staticPrefix.lastIndexOf('/') + 1);
}

/** True when `name` may be sent as a request header (a token, and not in {@link FORBIDDEN_HEADER_NAMES}). */
export function isAllowedHeaderName(name: string): boolean {
  return HEADER_NAME.test(name) && !FORBIDDEN_HEADER_NAMES.has(name.toLowerCase());
}

function invalid(message: string): GatewayError {
  return new GatewayError('INVALID_PAYLOAD', message);
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses `domain` into an origin. Without a scheme it means `https://`; only http and https are
 * allowed, and userinfo, path, query and fragment are refused because they belong elsewhere (or
 * nowhere: credentials in a URL end up in logs). Messages never quote the domain, which might hold
 * such credentials.
 */
export function parseDomain(domain: unknown): string {
  if (typeof domain !== 'string' || domain.trim() === '' || /\s/.test(domain)) {
    throw invalid('tds_ext_info.domain must be a host name such as "api.example.com" or "https://api.example.com:8443"');
  }
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(domain);
  let url: URL;
  try {
    url = new URL(hasScheme ? domain : `https://${domain}`);
  } catch {
    throw invalid('tds_ext_info.domain is not a valid host (expected "api.example.com" or "https://api.example.com:8443")');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid('tds_ext_info.domain: only http and https are allowed');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid('tds_ext_info.domain must not contain credentials; use ext_info.headers with ${env:NAME}');
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || domain.includes('?') || domain.includes('#')) {
    throw invalid('tds_ext_info.domain must not contain a path, query or fragment; put the path in tds_ext_info.path');
  }
  if (url.hostname === '') throw invalid('tds_ext_info.domain has no host');
  return url.origin;
}

function parseHeaders(value: unknown): CompiledHttpTool['headers'] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) throw invalid('ext_info.headers must be an object of header name to string value');
  const seen = new Set<string>();
  return Object.entries(value).map(([name, template]) => {
    const lower = name.toLowerCase();
    if (!isAllowedHeaderName(name)) throw invalid(`ext_info.headers: "${name}" is not a header name that may be set`);
    if (seen.has(lower)) throw invalid(`ext_info.headers: "${name}" is given twice`);
    seen.add(lower);
    // Never echo the value: it is usually a credential or a template around one.
    if (typeof template !== 'string') throw invalid(`ext_info.headers.${name} must be a string`);
    if (/[\r\n\0]/.test(template)) throw invalid(`ext_info.headers.${name} must not contain CR, LF or NUL`);
    return { name: lower, value: parseEnvTemplate(template, `ext_info.headers.${name}`) };
  });
}

/** Longest name of a configured query parameter. */
const MAX_QUERY_NAME = 256;

function parseQueryCredentials(value: unknown): QueryCredential[] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) throw invalid('ext_info.query must be an object of query parameter name to string value, such as {"api_key": "${env:API_KEY}"}');
  return Object.entries(value).map(([name, template]) => {
    if (name === '' || name.length > MAX_QUERY_NAME) throw invalid(`ext_info.query: parameter names must have 1 to ${MAX_QUERY_NAME} characters`);
    // Never echo the value: it is usually a credential or a template around one.
    if (typeof template !== 'string') throw invalid(`ext_info.query.${name} must be a string`);
    if (/[\r\n\0]/.test(template)) throw invalid(`ext_info.query.${name} must not contain CR, LF or NUL`);
    return { name, value: parseEnvTemplate(template, `ext_info.query.${name}`) };
  });
}

function parseBodyEncoding(value: unknown): BodyContentType {
  if (value === undefined) return 'application/json';
  const allowed = BODY_CONTENT_TYPES.join(', ');
  if (!isPlainObject(value)) throw invalid(`ext_info.body must be an object such as {"content_type": "multipart/form-data"} (content_type one of ${allowed})`);
  const unknown = Object.keys(value).filter((key) => key !== 'content_type');
  if (unknown.length > 0) throw invalid(`ext_info.body has unknown key(s) ${unknown.map((key) => `"${key}"`).join(', ')}; known: content_type`);
  const type = value['content_type'] ?? 'application/json';
  if (typeof type !== 'string' || !(BODY_CONTENT_TYPES as readonly string[]).includes(type.toLowerCase())) {
    throw invalid(`ext_info.body.content_type must be one of ${allowed}`);
  }
  return type.toLowerCase() as BodyContentType;
}

type ParameterMaps = Pick<CompiledHttpTool, 'queryParameters' | 'headerNames'>;

function parseQueryParameter(argument: string, value: unknown): QueryParameter {
  const where = `ext_info.parameters.query.${argument}`;
  if (!isPlainObject(value)) throw invalid(`${where} must be an object such as {"name": "filter[status]", "style": "form", "explode": true}`);
  const unknown = Object.keys(value).filter((key) => !['name', 'style', 'explode'].includes(key));
  if (unknown.length > 0) throw invalid(`${where} has unknown key(s) ${unknown.map((key) => `"${key}"`).join(', ')}; known: name, style, explode`);
  const name = value['name'] ?? argument;
  if (typeof name !== 'string' || name === '' || name.length > 256) throw invalid(`${where}.name must be a string of 1 to 256 characters`);
  const style = value['style'] ?? 'form';
  if (typeof style !== 'string' || !(QUERY_STYLES as readonly string[]).includes(style)) {
    throw invalid(`${where}.style must be one of ${QUERY_STYLES.join(', ')}`);
  }
  // OpenAPI's default: `explode` is true for `form` and false for the other styles.
  const explode = value['explode'] ?? style === 'form';
  if (typeof explode !== 'boolean') throw invalid(`${where}.explode must be true or false`);
  return { name, style: style as QueryStyle, explode };
}

/**
 * `ext_info.parameters`: `{ query: { <argument>: { name, style, explode } }, headers: { <argument>:
 * { name } } }`. It lets an input schema use argument names every MCP client accepts while the
 * upstream receives the names its API defines.
 */
function parseParameters(value: unknown): ParameterMaps {
  const queryParameters = new Map<string, QueryParameter>();
  const headerNames = new Map<string, string>();
  if (value === undefined) return { queryParameters, headerNames };
  if (!isPlainObject(value)) throw invalid('ext_info.parameters must be an object such as {"query": {"filter_status": {"name": "filter[status]"}}}');
  const unknown = Object.keys(value).filter((key) => key !== 'query' && key !== 'headers');
  if (unknown.length > 0) throw invalid(`ext_info.parameters has unknown key(s) ${unknown.map((key) => `"${key}"`).join(', ')}; known: query, headers`);
  const query = value['query'];
  if (query !== undefined) {
    if (!isPlainObject(query)) throw invalid('ext_info.parameters.query must be an object of argument name to {name, style, explode}');
    for (const [argument, entry] of Object.entries(query)) queryParameters.set(argument, parseQueryParameter(argument, entry));
  }
  const headers = value['headers'];
  if (headers !== undefined) {
    if (!isPlainObject(headers)) throw invalid('ext_info.parameters.headers must be an object of argument name to {name}');
    for (const [argument, entry] of Object.entries(headers)) {
      const name = isPlainObject(entry) ? entry['name'] : undefined;
      if (typeof name !== 'string' || !isAllowedHeaderName(name) || Object.keys(entry as JsonObject).length !== 1) {
        throw invalid(`ext_info.parameters.headers.${argument} must be {"name": "<header name>"} naming a header that may be set`);
      }
      headerNames.set(argument, name);
    }
  }
  return { queryParameters, headerNames };
}

/** Most extra attempts a tool may ask for. */
export const MAX_RETRIES = 3;

function parseRetries(value: unknown): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_RETRIES) {
    throw invalid(`ext_info.retries must be an integer from 0 to ${MAX_RETRIES}`);
  }
  return value as number;
}

function parsePositiveInteger(value: unknown, key: string, max?: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || (max !== undefined && value > max)) {
    throw invalid(`ext_info.${key} must be a positive integer${max === undefined ? '' : ` not above ${max}`}`);
  }
  return value;
}

// RFC 6838 §4.2 type/subtype, no parameters.
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
// RFC 3986 §3.1: a URI starts with a scheme.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;

function parseResultMapping(value: unknown): ResultMapping {
  if (value === undefined) return { as: 'auto' };
  if (!isPlainObject(value)) throw invalid('ext_info.result must be an object such as {"as": "resource", "uri": "docs://readme"}');
  const unknown = Object.keys(value).filter((key) => !['as', 'uri', 'mime_type'].includes(key));
  if (unknown.length > 0) {
    const names = unknown.map((key) => `"${key}"`).join(', ');
    throw invalid(`ext_info.result has unknown key(s) ${names}; known: as, uri, mime_type`);
  }
  const as = value['as'] ?? 'auto';
  if (typeof as !== 'string' || !(RESULT_MAPPINGS as readonly string[]).includes(as)) {
    throw invalid(`ext_info.result.as must be one of ${RESULT_MAPPINGS.join(', ')}`);
  }
  const mapping: ResultMapping = { as: as as ResultMappingKind };
  const uri = value['uri'];
  if (uri !== undefined) {
    if (typeof uri !== 'string' || uri.length > 2048 || !URI.test(uri)) {
      throw invalid('ext_info.result.uri must be an absolute URI such as "docs://readme" (at most 2048 characters)');
    }
    mapping.uri = uri;
  }
  const mimeType = value['mime_type'];
  if (mimeType !== undefined) {
    if (typeof mimeType !== 'string' || !MEDIA_TYPE.test(mimeType)) {
      throw invalid('ext_info.result.mime_type must be a media type such as "image/png" (type/subtype, no parameters)');
    }
    mapping.mimeType = mimeType.toLowerCase();
  }
  const media = mapping.as === 'image' || mapping.as === 'audio' ? mapping.as : undefined;
  if (media !== undefined && mapping.mimeType !== undefined && !mapping.mimeType.startsWith(`${media}/`)) {
    throw invalid(`ext_info.result.mime_type must be an ${media}/* type when ext_info.result.as is "${media}"`);
  }
  return mapping;
}

/**
 * Grouped when the schema's top-level property names are a non-empty subset of
 * {@link ARGUMENT_GROUPS}; flat when it declares other properties; `auto` when it declares none.
 */
export function argumentStyleOf(inputSchema: unknown): ArgumentStyle {
  const properties = isPlainObject(inputSchema) ? inputSchema['properties'] : undefined;
  const keys = isPlainObject(properties) ? Object.keys(properties) : [];
  if (keys.length === 0) return 'auto';
  return keys.every((key) => (ARGUMENT_GROUPS as readonly string[]).includes(key)) ? 'grouped' : 'flat';
}

// A placeholder the schema does not declare can never be filled by a client that follows the schema,
// so every call would fail; refuse the definition at write time instead, where the operator sees why.
function assertPlaceholdersDeclared(path: PathTemplate, inputSchema: unknown): void {
  const style = argumentStyleOf(inputSchema);
  if (style === 'auto' || path.names.length === 0) return;
  const properties = (inputSchema as { properties: JsonObject }).properties;
  const pathGroup = properties['path'];
  const declared = style === 'flat' ? properties : isPlainObject(pathGroup) ? pathGroup['properties'] : undefined;
  // A grouped schema whose `path` group lists no properties says nothing either way.
  if (!isPlainObject(declared)) return;
  const missing = path.names.filter((name) => !Object.hasOwn(declared, name));
  if (missing.length > 0) {
    const where = style === 'flat' ? 'input_schema.properties' : 'input_schema.properties.path.properties';
    throw invalid(`path parameter(s) ${missing.map((name) => `"${name}"`).join(', ')} must be declared in ${where}`);
  }
}

function compile(tool: ToolDefinition): CompiledHttpTool {
  const info: unknown = (tool as { tds_ext_info?: unknown }).tds_ext_info;
  if (!isPlainObject(info)) throw invalid('tds_ext_info must be an object with domain, method and path');
  const rawMethod = info['method'];
  const method = typeof rawMethod === 'string' ? rawMethod.toUpperCase() : '';
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw invalid(`tds_ext_info.method must be one of ${HTTP_METHODS.join(', ')}`);
  }
  const origin = parseDomain(info['domain']);
  const rawPath = info['path'];
  if (typeof rawPath !== 'string') throw invalid('tds_ext_info.path must be a string starting with "/"');
  const path = compilePathTemplate(rawPath);
  const required = info['required_params'];
  if (required !== undefined && !isPlainObject(required)) {
    throw invalid('tds_ext_info.required_params must be an object whose keys name required parameters');
  }
  assertPlaceholdersDeclared(path, tool.input_schema);
  const extInfo = info['ext_info'];
  if (extInfo !== undefined && !isPlainObject(extInfo)) throw invalid('tds_ext_info.ext_info must be an object');
  return {
    method: method as HttpMethod,
    origin,
    hostname: new URL(origin).hostname,
    name: tool.name,
    path,
    redirectPrefix: redirectPrefixOf(path),
    requiredParams: Object.keys(required ?? {}),
    headers: parseHeaders(extInfo?.['headers']),
    queryCredentials: parseQueryCredentials(extInfo?.['query']),
    bodyContentType: parseBodyEncoding(extInfo?.['body']),
    ...parseParameters(extInfo?.['parameters']),
    timeoutMs: parsePositiveInteger(extInfo?.['timeout_ms'], 'timeout_ms', MAX_TIMEOUT_MS),
    maxResponseBytes: parsePositiveInteger(extInfo?.['max_response_bytes'], 'max_response_bytes'),
    retries: parseRetries(extInfo?.['retries']),
    argumentStyle: argumentStyleOf(tool.input_schema),
    hasOutputSchema: isPlainObject(tool.output_schema),
    result: parseResultMapping(extInfo?.['result']),
  };
}

// Keyed by the definition object: the store hands out a new object on every change, so an entry can
// never be stale, and it goes away with the definition.
const cache = new WeakMap<ToolDefinition, CompiledHttpTool | GatewayError>();

/**
 * Validates and compiles an `http` tool definition, once per definition object.
 * @throws GatewayError `INVALID_PAYLOAD` saying what to fix.
 */
export function compileHttpTool(tool: ToolDefinition): CompiledHttpTool {
  let entry = cache.get(tool);
  if (entry === undefined) {
    try {
      entry = compile(tool);
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      entry = error;
    }
    cache.set(tool, entry);
  }
  if (entry instanceof GatewayError) throw entry;
  return entry;
}
