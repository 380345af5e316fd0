import type { JsonObject, ToolDefinition } from '@dynmcp/plugin';
import { mapParameters, mergeParameters, UnmappableOperation } from './map-parameters.js';
import { convertSchema, MAX_SCHEMA_NODES, SchemaTooLargeError } from './schema-convert.js';
import type { ConvertContext } from './schema-convert.js';

/** Longest tool description produced. */
export const MAX_DESCRIPTION = 1000;

/** What every operation of one document shares. */
export interface DocumentContext extends ConvertContext {
  api: Record<string, unknown>;
  title: string;
  version: string;
  /** Replaces the document's servers when given. */
  baseUrl: string | undefined;
  specVersion: string;
  /** Swagger 2.0: host + basePath (the upgraded document's servers are not used). */
  swaggerBase: string | undefined;
  auth: Readonly<Record<string, string>>;
}

/** One operation of the document. */
export interface OperationRef {
  method: string;
  path: string;
  operation: Record<string, unknown>;
  pathItem: Record<string, unknown>;
}

/** A tool, or why the operation has none. */
export type OperationMapping = { ok: true; tool: ToolDefinition } | { ok: false; reason: string };

const JSON_MEDIA = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;
// The body encodings the http executor sends besides JSON (ext_info.body.content_type), in order of preference.
const FORM_MEDIA = ['application/x-www-form-urlencoded', 'multipart/form-data'] as const;
// What a multipart file part takes as an argument: the executor's file value (docs/tool-definition.md).
const FILE_SCHEMA = {
  type: 'object',
  properties: {
    filename: { type: 'string' },
    content_base64: { type: 'string', contentEncoding: 'base64', description: 'The file content, base64-encoded' },
    content_type: { type: 'string', description: 'Media type of the file, e.g. image/png' },
  },
  required: ['content_base64'],
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first server's URL with its variables' defaults applied. */
function serverUrl(servers: unknown): string | undefined {
  const server: unknown = Array.isArray(servers) ? servers[0] : undefined;
  if (!isRecord(server) || typeof server['url'] !== 'string') return undefined;
  const variables = isRecord(server['variables']) ? server['variables'] : {};
  return server['url'].replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const variable = variables[name];
    return isRecord(variable) && typeof variable['default'] === 'string' ? variable['default'] : whole;
  });
}

/** Origin and path prefix of the upstream, or why there is none usable. */
export function resolveBase(url: string | undefined, source: string): { origin: string; prefix: string } | { error: string } {
  if (url === undefined || !/^https?:\/\//i.test(url)) {
    return { error: `the ${source} URL "${(url ?? '/').slice(0, 200)}" is not absolute (http or https); give base_url` };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { error: `the ${source} URL "${url.slice(0, 200)}" is not a valid URL` };
  }
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '' || parsed.pathname.includes('{')) {
    return { error: `the ${source} URL "${url.slice(0, 200)}" has credentials, a query, a fragment or an unresolved variable; give base_url` };
  }
  return { origin: parsed.origin, prefix: decodeURI(parsed.pathname).replace(/\/+$/, '') };
}

function baseFor(ref: OperationRef, context: DocumentContext): ReturnType<typeof resolveBase> {
  if (context.baseUrl !== undefined) return resolveBase(context.baseUrl, 'base_url');
  const own = serverUrl(ref.operation['servers']) ?? serverUrl(ref.pathItem['servers']);
  if (own !== undefined) return resolveBase(own, 'server');
  if (context.specVersion === '2.0') return resolveBase(context.swaggerBase, 'host + basePath');
  return resolveBase(serverUrl(context.api['servers']), 'server');
}

function describe(ref: OperationRef): string {
  const parts = [ref.operation['summary'], ref.operation['description']].filter((part): part is string => typeof part === 'string' && part.trim() !== '');
  const text = parts.map((part) => part.trim()).join('\n\n') || `${ref.method.toUpperCase()} ${ref.path}`;
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 1)}…` : text;
}

/** Configured credentials: `ext_info.headers` and `ext_info.query`. */
interface Credentials {
  headers: Record<string, string>;
  query: Record<string, string>;
}

/**
 * Credentials by reference: the first security alternative whose schemes `auth` all maps becomes
 * configured headers (`apiKey` in a header or cookie, `http`/`oauth2`/`openIdConnect` as
 * Authorization) and query parameters (`apiKey` in the query, which the executor keeps out of
 * results). Nothing is invented: an unmapped requirement is a warning.
 */
function authCredentials(ref: OperationRef, route: string, context: DocumentContext): Credentials {
  const headers: Record<string, string> = {};
  const query: Record<string, string> = {};
  const requirements = ref.operation['security'] ?? context.api['security'];
  if (!Array.isArray(requirements) || requirements.length === 0) return { headers, query };
  const schemes = isRecord(context.api['components']) && isRecord(context.api['components']['securitySchemes']) ? context.api['components']['securitySchemes'] : {};
  const alternatives = requirements.filter(isRecord).map((requirement) => Object.keys(requirement));
  const optional = alternatives.some((names) => names.length === 0);
  const chosen = alternatives.find((names) => names.length > 0 && names.every((name) => Object.hasOwn(context.auth, name))) ?? (optional ? [] : undefined);
  if (chosen === undefined) {
    const wanted = alternatives.map((names) => names.join(' + ')).join(' or ');
    context.warn(`${route}: requires security ${wanted}, which auth does not map; the tool sends no credentials`);
    return { headers, query };
  }
  const cookies: string[] = [];
  for (const name of chosen) {
    const scheme = schemes[name];
    const value = context.auth[name] as string;
    if (!isRecord(scheme)) {
      context.warn(`${route}: security scheme "${name}" is not defined in components.securitySchemes; not mapped`);
    } else if (scheme['type'] === 'apiKey' && scheme['in'] === 'header' && typeof scheme['name'] === 'string') {
      headers[scheme['name']] = value;
    } else if (scheme['type'] === 'apiKey' && scheme['in'] === 'cookie' && typeof scheme['name'] === 'string') {
      cookies.push(`${scheme['name']}=${value}`);
    } else if (scheme['type'] === 'apiKey' && scheme['in'] === 'query' && typeof scheme['name'] === 'string' && scheme['name'] !== '') {
      query[scheme['name']] = value;
    } else if (scheme['type'] === 'apiKey') {
      context.warn(`${route}: security scheme "${name}" is an apiKey without a usable "in" and "name"; not mapped`);
    } else {
      headers['Authorization'] = value;
    }
  }
  if (cookies.length > 0) headers['Cookie'] = cookies.join('; ');
  return { headers, query };
}

/** A binary string schema (`format: binary`, or 3.1's `contentMediaType` without `contentEncoding`): a file part. */
function isBinary(schema: unknown): schema is Record<string, unknown> {
  if (!isRecord(schema) || schema['type'] !== 'string') return false;
  return schema['format'] === 'binary' || (schema['contentMediaType'] !== undefined && schema['contentEncoding'] === undefined);
}

/** Top-level binary properties of a multipart body (and arrays of them) take the executor's file value. */
function withFileArguments(schema: Record<string, unknown>): void {
  const properties = schema['properties'];
  if (!isRecord(properties)) return;
  for (const [name, property] of Object.entries(properties)) {
    const description = isRecord(property) && typeof property['description'] === 'string' ? { description: property['description'] } : {};
    if (isBinary(property)) properties[name] = { ...structuredClone(FILE_SCHEMA), ...description };
    else if (isRecord(property) && property['type'] === 'array' && isBinary(property['items'])) properties[name] = { ...property, items: structuredClone(FILE_SCHEMA) };
  }
}

interface MappedBody {
  schema: JsonObject;
  required: boolean;
  /** The `ext_info.body.content_type` to set; `undefined` for JSON, the executor's default. */
  contentType: string | undefined;
}

function bodySchema(ref: OperationRef, route: string, context: DocumentContext): MappedBody | undefined {
  const body = ref.operation['requestBody'];
  if (!isRecord(body) || !isRecord(body['content'])) return undefined;
  const required = body['required'] === true;
  const types = Object.keys(body['content']);
  const json = types.find((type) => JSON_MEDIA.test(type));
  const form = json === undefined ? FORM_MEDIA.find((wanted) => types.some((type) => type.split(';')[0]?.trim().toLowerCase() === wanted)) : undefined;
  const chosen = json ?? types.find((type) => type.split(';')[0]?.trim().toLowerCase() === form);
  const refuse = (why: string): undefined => {
    if (required) throw new UnmappableOperation(why);
    context.warn(`${route}: optional ${why}; left out`);
    return undefined;
  };
  if (ref.method === 'head') return refuse('a HEAD request carries no body');
  if (chosen === undefined) {
    return refuse(`request body ${types.join(', ')} is not supported: tools send JSON, application/x-www-form-urlencoded and multipart/form-data bodies only`);
  }
  const media = body['content'][chosen];
  const schema = convertSchema(isRecord(media) ? media['schema'] ?? {} : {}, `${route}: request body schema`, 2, 'input', context);
  if (form !== undefined && schema['type'] !== undefined && schema['type'] !== 'object') {
    return refuse(`request body ${form} has a schema of type ${JSON.stringify(schema['type'])}; form bodies are sent from an object`);
  }
  if (form === 'multipart/form-data') withFileArguments(schema);
  if (typeof body['description'] === 'string' && schema['description'] === undefined) schema['description'] = body['description'];
  return { schema: schema as JsonObject, required, contentType: form };
}

function outputSchema(ref: OperationRef, route: string, context: DocumentContext): JsonObject | undefined {
  const responses = ref.operation['responses'];
  if (!isRecord(responses)) return undefined;
  const success = Object.keys(responses).filter((code) => /^2(?:\d\d|XX)$/i.test(code)).sort()[0];
  const response = success === undefined ? undefined : responses[success];
  const content = isRecord(response) && isRecord(response['content']) ? response['content'] : {};
  const json = Object.keys(content).find((type) => JSON_MEDIA.test(type));
  const media = json === undefined ? undefined : content[json];
  if (!isRecord(media) || !isRecord(media['schema'])) return undefined;
  const schema = convertSchema(media['schema'], `${route}: ${success} response schema`, 0, 'output', context);
  if (schema['type'] === 'object') return schema as JsonObject;
  if (schema['type'] === undefined && isRecord(schema['properties'])) return { type: 'object', ...schema } as JsonObject;
  return undefined;
}

/**
 * The output schema, or none when it is too large to keep: an answer schema is optional (results
 * are then not checked against it), so the operation is imported without it rather than skipped.
 * Large APIs describe their answers with every expandable object inline (Stripe's answers expand to
 * hundreds of thousands of nodes), while their arguments stay small.
 */
function outputOrNone(ref: OperationRef, route: string, context: DocumentContext): JsonObject | undefined {
  try {
    return outputSchema(ref, route, context);
  } catch (error) {
    if (!(error instanceof SchemaTooLargeError)) throw error;
    context.warn(`${route}: its 2xx response schema expands to more than ${MAX_SCHEMA_NODES} nodes after resolving $refs; imported without output_schema`);
    return undefined;
  }
}

function annotationsOf(method: string): JsonObject | undefined {
  if (method === 'get' || method === 'head') return { readOnlyHint: true };
  if (method === 'delete') return { destructiveHint: true };
  if (method === 'put') return { idempotentHint: true };
  return undefined;
}

/** Placeholders of an OpenAPI path template. */
function placeholders(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] as string);
}

/**
 * Maps one operation to a tool definition named `name` with id `id`, or says why it cannot be.
 * Warnings (renamed arguments, cut schemas, unmapped security) go to `context.warn`.
 */
export function mapOperation(ref: OperationRef, name: string, id: string, context: DocumentContext): OperationMapping {
  const route = `${ref.method.toUpperCase()} ${ref.path}`;
  try {
    if (ref.method === 'trace') return { ok: false, reason: 'TRACE operations are not supported' };
    if (/\/:|[?#]/.test(ref.path)) return { ok: false, reason: 'the path has ":" at a segment start, "?" or "#", which tool path templates treat differently' };
    const base = baseFor(ref, context);
    if ('error' in base) return { ok: false, reason: base.error };
    const { headers, query } = authCredentials(ref, route, context);
    const parameters = mergeParameters(ref.pathItem, ref.operation);
    for (const placeholder of placeholders(ref.path)) {
      if (!parameters.some((parameter) => parameter.in === 'path' && parameter.name === placeholder)) {
        context.warn(`${route}: path placeholder "{${placeholder}}" has no parameter; declared as a required string`);
        parameters.push({ name: placeholder, in: 'path', required: true, schema: { type: 'string' } });
      }
    }
    const skipHeaders = new Set(Object.keys(headers).map((header) => header.toLowerCase()));
    const mapped = mapParameters(parameters, skipHeaders, route, context, new Set(Object.keys(query)));
    const properties: JsonObject = { ...mapped.groups };
    const required = Object.entries(mapped.groups).filter(([, group]) => Array.isArray(group['required'])).map(([group]) => group);
    const body = bodySchema(ref, route, context);
    if (body !== undefined) {
      properties['body'] = body.schema;
      if (body.required) required.push('body');
    }
    const path = base.prefix + ref.path.replace(/\{([^}]+)\}/g, (whole, placeholder: string) => {
      const renamed = mapped.pathRenames.get(placeholder);
      return renamed === undefined ? whole : `{${renamed}}`;
    });
    const extInfo: JsonObject = {};
    if (Object.keys(headers).length > 0) extInfo['headers'] = headers;
    if (Object.keys(query).length > 0) extInfo['query'] = query;
    if (body?.contentType !== undefined) extInfo['body'] = { content_type: body.contentType };
    if (mapped.parameters !== undefined) extInfo['parameters'] = mapped.parameters;
    const operationId = typeof ref.operation['operationId'] === 'string' ? ref.operation['operationId'] : undefined;
    extInfo['openapi'] = { title: context.title, version: context.version, operation: route, ...(operationId === undefined ? {} : { operation_id: operationId }) };
    const tool: ToolDefinition = {
      id,
      name,
      description: describe(ref),
      input_schema: { type: 'object', properties, ...(required.length > 0 ? { required } : {}) },
      tds_ext_info: { domain: base.origin, method: ref.method.toUpperCase(), path: path === '' ? '/' : path, ext_info: extInfo },
    };
    if (typeof ref.operation['summary'] === 'string' && ref.operation['summary'].trim() !== '') tool.title = ref.operation['summary'].trim().slice(0, 256);
    const output = outputOrNone(ref, route, context);
    if (output !== undefined) tool.output_schema = output;
    const annotations = annotationsOf(ref.method);
    if (annotations !== undefined) tool.annotations = annotations;
    return { ok: true, tool };
  } catch (error) {
    if (error instanceof UnmappableOperation) return { ok: false, reason: error.message };
    throw error;
  }
}
