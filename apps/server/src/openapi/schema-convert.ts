import type { SchemaCompiler } from '@dynmcp/common';
import { pointerToken } from './ref-scan.js';

/** Schema levels a recursive schema is unrolled to before the rest becomes `{}`. */
export const RECURSION_DEPTH = 8;
/** Most nodes one converted schema may hold: `$ref` graphs can multiply a small document. */
export const MAX_SCHEMA_NODES = 20_000;
// compileToolDefinition refuses schemas nesting deeper than 32 JSON levels; 30 leaves room for the
// array and scalars of an `enum` or `type` list under the deepest schema kept.
const MAX_JSON_DEPTH = 30;

/** Thrown when a schema is over {@link MAX_SCHEMA_NODES}; the operation is skipped. */
export class SchemaTooLargeError extends Error {}

/** How a schema is used: input drops `readOnly` properties, output drops `writeOnly` ones. */
export type SchemaUse = 'input' | 'output';

/** Per conversion: the pattern check, where warnings go, and the OpenAPI dialect. */
export interface ConvertContext {
  compiler: SchemaCompiler;
  /** OpenAPI 3.0 schemas are a JSON Schema draft-04 dialect; 3.1 ones are 2020-12 already. */
  openapi30: boolean;
  warn(message: string): void;
}

// Keywords whose value is a schema, a list of schemas, or a map of name → schema.
const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties', 'additionalItems', 'contentSchema']);
const SCHEMA_LIST_KEYWORDS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_MAP_KEYWORDS = new Set(['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions']);
// OpenAPI-only keywords with no meaning to a validator or a model; dropped to keep schemas small.
const DROPPED = new Set(['discriminator', 'xml', 'externalDocs', 'nullable', 'example', '$schema', '$id', '$anchor', '$dynamicAnchor', '$comment']);
// Formats our validator (ajv-formats) knows; others are dropped, as a validator would ignore them.
const KNOWN_FORMATS = new Set([
  'date', 'time', 'date-time', 'iso-time', 'iso-date-time', 'duration', 'uri', 'uri-reference', 'uri-template', 'url', 'email',
  'hostname', 'ipv4', 'ipv6', 'regex', 'uuid', 'json-pointer', 'json-pointer-uri-fragment', 'relative-json-pointer', 'byte',
  'int32', 'int64', 'float', 'double', 'password', 'binary',
]);

interface Walk {
  context: ConvertContext;
  use: SchemaUse;
  /** Schema objects on the way from the root, to see recursion. */
  ancestors: object[];
  nodes: number;
  /** Where the schema sits in the tool definition, for warnings. */
  root: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Copies a JSON value (default, enum, example), or `undefined` when it nests too deep to keep. */
function copyData(value: unknown, depth: number, walk: Walk): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_JSON_DEPTH + 1) return undefined;
  if (++walk.nodes > MAX_SCHEMA_NODES) throw new SchemaTooLargeError();
  if (Array.isArray(value)) {
    const items = value.map((item) => copyData(item, depth + 1, walk));
    return items.includes(undefined) ? undefined : items;
  }
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const itemCopy = copyData(item, depth + 1, walk);
    if (itemCopy === undefined) return undefined;
    copy[key] = itemCopy;
  }
  return copy;
}

function patternRunsLinear(pattern: string, context: ConvertContext): boolean {
  try {
    context.compiler.compile({ type: 'string', pattern });
    return true;
  } catch {
    return false;
  }
}

/** OpenAPI 3.0's `nullable`, boolean `exclusiveMinimum`/`exclusiveMaximum` and `example`, in 2020-12 terms. */
function applyOpenApi30(source: Record<string, unknown>, target: Record<string, unknown>, depth: number, walk: Walk): void {
  if (source['nullable'] === true) {
    const type = target['type'];
    if (typeof type === 'string') target['type'] = [type, 'null'];
    if (Array.isArray(target['enum']) && !target['enum'].includes(null)) target['enum'] = [...target['enum'], null];
  }
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof source[flag] !== 'boolean') continue;
    delete target[flag];
    if (source[flag] === true && typeof source[bound] === 'number') {
      target[flag] = source[bound];
      delete target[bound];
    }
  }
  if (source['example'] !== undefined && target['examples'] === undefined) {
    const example = copyData(source['example'], depth + 2, walk);
    if (example !== undefined) target['examples'] = [example];
  }
}

function cut(walk: Walk, at: string, why: string): Record<string, unknown> {
  walk.context.warn(`${walk.root}${at}: ${why}; replaced by {} (any value)`);
  return { description: `Not described here: ${why}.` };
}

function convertNode(node: unknown, at: string, depth: number, schemaDepth: number, walk: Walk): unknown {
  if (typeof node === 'boolean') return node;
  if (!isRecord(node)) return {};
  if (walk.ancestors.includes(node) && schemaDepth >= RECURSION_DEPTH) return cut(walk, at, `recursive schema cut at depth ${RECURSION_DEPTH}`);
  if (depth > MAX_JSON_DEPTH) return cut(walk, at, 'schema nested too deeply');
  if (++walk.nodes > MAX_SCHEMA_NODES) throw new SchemaTooLargeError();
  walk.ancestors.push(node);
  const target: Record<string, unknown> = {};
  const sub = (child: unknown, where: string, extra: number) => convertNode(child, `${at}${where}`, depth + extra, schemaDepth + 1, walk);
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key) || key.startsWith('x-')) continue;
    const where = `/${pointerToken(key)}`;
    if (SCHEMA_KEYWORDS.has(key) && (isRecord(value) || typeof value === 'boolean')) {
      target[key] = sub(value, where, 1);
    } else if ((SCHEMA_LIST_KEYWORDS.has(key) || key === 'items') && Array.isArray(value)) {
      target[key] = value.map((child, index) => sub(child, `${where}/${index}`, 2));
    } else if (SCHEMA_MAP_KEYWORDS.has(key) && isRecord(value)) {
      target[key] = convertMap(key, value, where, walk, sub);
    } else if (key === 'pattern' && typeof value === 'string') {
      if (patternRunsLinear(value, walk.context)) target[key] = value;
      else walk.context.warn(`${walk.root}${at}/pattern: "${value.slice(0, 100)}" cannot run on the linear-time engine; dropped`);
    } else if (key === 'format' && typeof value === 'string') {
      if (KNOWN_FORMATS.has(value)) target[key] = value;
    } else if (key === 'type' && value === 'file') {
      target[key] = 'string';
    } else {
      const copy = copyData(value, depth + 1, walk);
      if (copy !== undefined) target[key] = copy;
    }
  }
  if (walk.context.openapi30) applyOpenApi30(node, target, depth, walk);
  dropHiddenProperties(target, walk.use);
  walk.ancestors.pop();
  return target;
}

type Sub = (child: unknown, where: string, extra: number) => unknown;

function convertMap(keyword: string, map: Record<string, unknown>, where: string, walk: Walk, sub: Sub): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [name, child] of Object.entries(map)) {
    if (keyword === 'patternProperties' && !patternRunsLinear(name, walk.context)) {
      walk.context.warn(`${walk.root}${where}: pattern "${name.slice(0, 100)}" cannot run on the linear-time engine; dropped`);
      continue;
    }
    copy[name] = sub(child, `${where}/${pointerToken(name)}`, 2);
  }
  return copy;
}

// A client never sends `readOnly` properties and never receives `writeOnly` ones (OpenAPI 3.0
// §4.7.25.1, JSON Schema validation §9.4); requiring them would make every call or answer fail.
function dropHiddenProperties(target: Record<string, unknown>, use: SchemaUse): void {
  const properties = target['properties'];
  if (!isRecord(properties)) return;
  const hidden = use === 'input' ? 'readOnly' : 'writeOnly';
  const dropped = Object.keys(properties).filter((name) => isRecord(properties[name]) && properties[name][hidden] === true);
  if (dropped.length === 0) return;
  for (const name of dropped) delete properties[name];
  if (Array.isArray(target['required'])) target['required'] = target['required'].filter((name) => !dropped.includes(name as string));
}

/**
 * Converts a resolved OpenAPI schema into a JSON Schema 2020-12 our validator compiles: OpenAPI 3.0
 * keywords translated, vendor extensions and unknown formats dropped, patterns the linear-time
 * engine refuses dropped with a warning, recursion and excessive nesting cut to `{}` with a warning.
 * `depth` is the JSON nesting level the schema will have inside the tool's `input_schema` or
 * `output_schema`. Iterates over shared (`$ref`) subschemas again each time they are used, bounded
 * by {@link MAX_SCHEMA_NODES}.
 * @throws SchemaTooLargeError
 */
export function convertSchema(schema: unknown, root: string, depth: number, use: SchemaUse, context: ConvertContext): Record<string, unknown> {
  const walk: Walk = { context, use, ancestors: [], nodes: 0, root };
  const converted = convertNode(schema, '', depth, 0, walk);
  return isRecord(converted) ? converted : {};
}
