import type { JsonObject } from '@dynmcp/plugin';
import { convertSchema } from './schema-convert.js';
import type { ConvertContext } from './schema-convert.js';
import { safeArgumentName } from './tool-names.js';

/**
 * The query styles the http executor sends (`QUERY_STYLES` of @dynmcp/core, which build-plan.test.ts
 * checks this equals). Spelt out rather than imported: this runs in the import worker, and loading
 * @dynmcp/core there (the executor, the MCP SDK) would cost every import a few hundred ms of CPU.
 */
export const QUERY_STYLES = ['form', 'spaceDelimited', 'pipeDelimited', 'deepObject'] as const;

/** The argument groups parameters go to, with their schemas and wire-name mappings. */
export interface MappedParameters {
  /** `path`, `query`, `headers` group schemas (only non-empty groups). */
  groups: Record<string, JsonObject>;
  /** Placeholder renames of the path template: real name → argument name. */
  pathRenames: Map<string, string>;
  /** `ext_info.parameters`, or `undefined` when every argument is sent as it is named. */
  parameters: JsonObject | undefined;
}

/** A reason to skip the operation. */
export class UnmappableOperation extends Error {}

const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// OpenAPI 3.1 §4.8.12.1: header parameters named so are ignored (the media types and security say it).
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
// Headers the executor never sends from arguments (hop-by-hop and framing), see http-tool-config.ts.
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);
const IN_TO_GROUP = { path: 'path', query: 'query', header: 'headers' } as const;

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  deprecated?: boolean;
  style?: string;
  explode?: boolean;
  schema?: unknown;
  content?: Record<string, { schema?: unknown }>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Path-item parameters, overridden by the operation's own of the same name and location. */
export function mergeParameters(pathItem: Record<string, unknown>, operation: Record<string, unknown>): Parameter[] {
  const merged = new Map<string, Parameter>();
  for (const list of [pathItem['parameters'], operation['parameters']]) {
    if (!Array.isArray(list)) continue;
    for (const parameter of list) {
      if (isRecord(parameter) && typeof parameter['name'] === 'string' && typeof parameter['in'] === 'string') {
        merged.set(`${parameter['in']} ${parameter['name']}`, parameter as unknown as Parameter);
      }
    }
  }
  return [...merged.values()];
}

function schemaOf(parameter: Parameter, at: string, context: ConvertContext): Record<string, unknown> {
  const fromContent = isRecord(parameter.content) ? Object.values(parameter.content)[0]?.schema : undefined;
  const schema = convertSchema(parameter.schema ?? fromContent ?? {}, at, 4, 'input', context);
  if (parameter.description !== undefined && schema['description'] === undefined) schema['description'] = parameter.description;
  if (parameter.deprecated === true) schema['deprecated'] = true;
  return schema;
}

const isObjectSchema = (schema: Record<string, unknown>) => schema['type'] === 'object' || isRecord(schema['properties']);

/**
 * Maps an operation's parameters to the `path`, `query` and `headers` argument groups. Names MCP
 * clients may refuse get safe argument names; the real ones travel in `ext_info.parameters` (query,
 * headers) or the path template (path). Query `style`/`explode` other than the executor's default
 * go to `ext_info.parameters` too. Headers in `skipHeaders` (lower-case) and query parameters in
 * `skipQuery` are the configured credentials' and get no argument.
 * @throws UnmappableOperation when a required parameter cannot be sent (a cookie, an unsupported style).
 */
export function mapParameters(
  list: readonly Parameter[],
  skipHeaders: ReadonlySet<string>,
  route: string,
  context: ConvertContext,
  skipQuery: ReadonlySet<string> = new Set(),
): MappedParameters {
  const groups: Record<string, { properties: JsonObject; required: string[] }> = {};
  const pathRenames = new Map<string, string>();
  const query: JsonObject = {};
  const headers: JsonObject = {};
  for (const parameter of list) {
    const where = `${route}: ${parameter.in} parameter "${parameter.name}"`;
    if (parameter.in === 'cookie' || !(parameter.in in IN_TO_GROUP)) {
      if (parameter.required === true) throw new UnmappableOperation(`required ${parameter.in} parameter "${parameter.name}" cannot be sent: tools send path, query and header arguments only`);
      context.warn(`${where} left out: tools send path, query and header arguments only`);
      continue;
    }
    const lower = parameter.name.toLowerCase();
    if (parameter.in === 'header' && (IGNORED_HEADERS.has(lower) || skipHeaders.has(lower))) continue;
    // A query parameter the security scheme fills (ext_info.query) is not the model's to send.
    if (parameter.in === 'query' && skipQuery.has(parameter.name)) continue;
    if (parameter.in === 'header' && (FORBIDDEN_HEADERS.has(lower) || !HEADER_TOKEN.test(parameter.name))) {
      if (parameter.required === true) throw new UnmappableOperation(`required header "${parameter.name}" may not be set by a tool`);
      context.warn(`${where} left out: a tool may not set this header`);
      continue;
    }
    const style = parameter.style ?? (parameter.in === 'query' ? 'form' : 'simple');
    if ((parameter.in === 'path' || parameter.in === 'header') && style !== 'simple') {
      throw new UnmappableOperation(`${parameter.in} parameter "${parameter.name}" uses style "${style}"; only "simple" is supported there`);
    }
    if (parameter.in === 'query' && !(QUERY_STYLES as readonly string[]).includes(style)) {
      throw new UnmappableOperation(`query parameter "${parameter.name}" uses style "${style}"; supported: ${QUERY_STYLES.join(', ')}`);
    }
    const groupName = IN_TO_GROUP[parameter.in as keyof typeof IN_TO_GROUP];
    const group = (groups[groupName] ??= { properties: {}, required: [] });
    let argument = safeArgumentName(parameter.name, new Set(Object.keys(group.properties)));
    // A path placeholder must start with a letter or `_` (path-template.ts).
    if (parameter.in === 'path' && !/^[A-Za-z_]/.test(argument)) argument = `p_${argument}`.slice(0, 64);
    const schema = schemaOf(parameter, `${route}: ${parameter.in} parameter "${parameter.name}" schema`, context);
    group.properties[argument] = schema as JsonObject;
    if (parameter.required === true || parameter.in === 'path') group.required.push(argument);
    const renamed = argument !== parameter.name;
    if (renamed) context.warn(`${where} is argument "${argument}" (the upstream still receives "${parameter.name}")`);
    if (parameter.in === 'path' && renamed) pathRenames.set(parameter.name, argument);
    if (parameter.in === 'header' && renamed) headers[argument] = { name: parameter.name };
    if (parameter.in === 'query') {
      const explode = parameter.explode ?? style === 'form';
      const plain = parameter.content !== undefined || (style === 'form' && explode && !isObjectSchema(schema));
      if (renamed || !plain) query[argument] = parameter.content !== undefined ? { name: parameter.name } : { name: parameter.name, style, explode };
    }
  }
  const parameters: JsonObject = {};
  if (Object.keys(query).length > 0) parameters['query'] = query;
  if (Object.keys(headers).length > 0) parameters['headers'] = headers;
  const schemas: Record<string, JsonObject> = {};
  for (const [name, group] of Object.entries(groups)) {
    schemas[name] = { type: 'object', properties: group.properties, ...(group.required.length > 0 ? { required: group.required } : {}) };
  }
  return { groups: schemas, pathRenames, parameters: Object.keys(parameters).length > 0 ? parameters : undefined };
}
