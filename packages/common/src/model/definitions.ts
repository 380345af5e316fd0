import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  GatewayError,
  type InstanceDefinition,
  type InstanceMetadata,
  type ProtoType,
  type ToolDefinition,
} from '@dynmcp/plugin';
import { formatErrors, SchemaCompileError, type ArgumentValidator, type SchemaCompiler } from './schema-compiler.js';

/** The published JSON Schema of a tool definition (`schemas/tool.schema.json`). */
export const toolJsonSchema = loadSchema('tool.schema.json');
/** The published JSON Schema of an instance definition (`schemas/instance.schema.json`). */
export const instanceJsonSchema = loadSchema('instance.schema.json');

/** Largest accepted definition, serialised; the store is never what rejects a write. */
export const MAX_DEFINITION_BYTES = 512 * 1024;

function loadSchema(file: string): Record<string, unknown> {
  // From src/model or dist/model alike, the schemas folder is two levels up.
  return JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

const payloadAjv = new Ajv2020({ allErrors: true, strict: true });
const checkTool = payloadAjv.compile(toolJsonSchema);
const checkInstance = payloadAjv.compile(instanceJsonSchema);

function invalid(what: string, detail: string): never {
  throw new GatewayError('INVALID_PAYLOAD', `invalid ${what}: ${detail}`);
}

/**
 * True for ids made only of dots (`.`, `..`, `...`). URL clients resolve `.` and `..` segments
 * away (RFC 3986 § 5.2.4), so `/admin/tds/..` or `/mcp/.` can never be reached by them; longer
 * runs of dots are refused alike, so the rule is one a person can remember. The published
 * schemas' id patterns refuse them too; this check gives the clearer message.
 */
export function isDotOnlyId(id: string): boolean {
  return /^\.+$/.test(id);
}

function assertReachableId(id: unknown, what: string, where: string): void {
  if (typeof id === 'string' && isDotOnlyId(id)) {
    invalid(what, `${where} "${id}" is made only of dots, which clients that normalise URLs can never reach; use at least one other character`);
  }
}

function withId(value: unknown, id: string | undefined, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(what, 'body must be a JSON object');
  const record = value as Record<string, unknown>;
  assertReachableId(id ?? record.id, what, '/id');
  if (id === undefined) return record;
  if (record.id !== undefined && record.id !== id) {
    throw new GatewayError('ID_MISMATCH', `body id "${String(record.id)}" differs from the id "${id}" in the path`);
  }
  return { ...record, id };
}

/** A validated tool definition with its compiled argument validator. */
export interface CompiledTool {
  readonly definition: ToolDefinition;
  /** Checks call arguments against `input_schema`; returns what is wrong, or undefined. */
  readonly validateArguments: ArgumentValidator;
  /** Checks `structuredContent` against `output_schema`; undefined when the tool declares none. */
  readonly validateOutput: ArgumentValidator | undefined;
  /** Releases the compiled schemas; call when the tool is replaced or dropped. */
  release(): void;
}

/**
 * Validates a tool definition against the published schema and compiles its JSON Schemas.
 * `id` (from the URL path or the store key) fills in or must equal the body's id. Throws
 * `GatewayError` saying what to fix.
 */
export function compileToolDefinition(value: unknown, compiler: SchemaCompiler, id?: string): CompiledTool {
  const record = withId(value, id, 'tool definition');
  let serialised: string;
  try {
    serialised = JSON.stringify(record);
  } catch {
    // A definition read from a store someone filled by hand can nest deep enough to overflow the
    // stack; the admin API refuses deep bodies before they get here.
    invalid('tool definition', 'it nests too deeply to be serialised');
  }
  if (Buffer.byteLength(serialised) > MAX_DEFINITION_BYTES) {
    throw new GatewayError('PAYLOAD_TOO_LARGE', `tool definition is larger than ${MAX_DEFINITION_BYTES} bytes`);
  }
  if (!checkTool(record)) invalid('tool definition', formatErrors(checkTool.errors));
  const definition = record as unknown as ToolDefinition;
  if (typeof definition.id !== 'string') invalid('tool definition', 'id is required');
  const compiled: Record<string, unknown>[] = [];
  const release = () => compiled.forEach((schema) => compiler.release(schema));
  let validateArguments: ArgumentValidator | undefined;
  let validateOutput: ArgumentValidator | undefined;
  for (const key of ['input_schema', 'output_schema'] as const) {
    const schema = definition[key];
    if (schema === undefined) continue;
    if (schema.type !== undefined && schema.type !== 'object') {
      release();
      invalid('tool definition', `/${key}/type must be "object"`);
    }
    try {
      const validate = compiler.compile(schema);
      compiled.push(schema);
      if (key === 'input_schema') validateArguments = validate;
      else validateOutput = validate;
    } catch (error) {
      release();
      const at = error instanceof SchemaCompileError ? error.at : '';
      invalid('tool definition', `/${key}${at}: ${(error as Error).message}`);
    }
  }
  return { definition, validateArguments: validateArguments ?? (() => undefined), validateOutput, release };
}

/**
 * Validates an instance definition against the published schema. `id` (from the URL path or the
 * store key) fills in or must equal the body's id, as for {@link compileToolDefinition}. Throws
 * `GatewayError` saying what to fix.
 */
export function parseInstanceDefinition(value: unknown, id?: string): InstanceDefinition {
  const record = withId(value, id, 'instance definition');
  if (Array.isArray(record.tool_ids)) {
    record.tool_ids.forEach((toolId, index) => assertReachableId(toolId, 'instance definition', `/tool_ids/${index}`));
  }
  if (!checkInstance(record)) invalid('instance definition', formatErrors(checkInstance.errors));
  const instance = record as unknown as InstanceDefinition;
  if (typeof instance.id !== 'string') invalid('instance definition', 'id is required');
  instanceMetadata(instance);
  assertOverridesListed(instance);
  return instance;
}

/**
 * An override of a tool the instance does not serve would silently do nothing, and start doing
 * something when the tool is added; each must name a tool that `tool_ids` lists, by id or by a
 * selector (`"pets.*"`). Whether it fits the tool is checked where the tools are known.
 */
function assertOverridesListed(instance: InstanceDefinition): void {
  const unlisted = Object.keys(instance.overrides ?? {}).filter(
    (toolId) => !instance.tool_ids.some((entry) => (entry.endsWith('*') ? toolId.startsWith(entry.slice(0, -1)) : entry === toolId)),
  );
  if (unlisted.length > 0) {
    invalid('instance definition', `/overrides names tool ids that tool_ids does not list: ${unlisted.map((id) => `"${id}"`).join(', ')}; add them to tool_ids or remove their overrides`);
  }
}

const PROTO_TYPES: readonly ProtoType[] = ['streamable-stateful', 'streamable-stateless'];

/** The instance's metadata as an object (the Rust project dynmcp stores it as a JSON string, and its clients still send it so); throws when malformed. */
export function instanceMetadata(instance: InstanceDefinition): InstanceMetadata {
  let metadata: unknown = instance.metadata ?? {};
  if (typeof metadata === 'string') {
    if (metadata.trim() === '') return {};
    try {
      metadata = JSON.parse(metadata);
    } catch {
      invalid('instance definition', '/metadata must be a JSON object or a string holding one');
    }
  }
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    invalid('instance definition', '/metadata must be a JSON object or a string holding one');
  }
  const protoType = (metadata as InstanceMetadata).proto_type;
  if (protoType !== undefined && !PROTO_TYPES.includes(protoType)) {
    invalid('instance definition', `/metadata/proto_type must be one of ${JSON.stringify(PROTO_TYPES)}`);
  }
  return metadata as InstanceMetadata;
}

/** The instance's 2025-era transport mode; stateful when metadata says nothing. */
export function instanceProtoType(instance: InstanceDefinition): ProtoType {
  return instanceMetadata(instance).proto_type ?? 'streamable-stateful';
}
