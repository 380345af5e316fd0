import { createHash } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { compileLinearPattern, linearRegExp, PatternError } from './linear-pattern.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;

/** Deepest nesting accepted in an admin-supplied JSON Schema (guards ajv's recursion). */
export const MAX_SCHEMA_DEPTH = 32;

/** Checks a value against a compiled schema; returns a message saying what is wrong, or undefined. */
export type ArgumentValidator = (value: unknown) => string | undefined;

/** Why a schema does not compile; `at` is the JSON Pointer, within the schema, of the culprit. */
export class SchemaCompileError extends Error {
  constructor(
    message: string,
    /** JSON Pointer relative to the schema's root (`''` when the whole schema is at fault). */
    readonly at = '',
  ) {
    super(message);
    this.name = 'SchemaCompileError';
  }
}

/**
 * Compiles admin-supplied JSON Schemas (tool input and output schemas). Schemas are treated as
 * untrusted: depth is capped, `$data` is off, unknown keywords are tolerated (OpenAPI-generated
 * schemas carry `example`, `nullable`…) and compiled schemas are never registered by `$id`, so two
 * tools may use the same `$id` and a replaced tool's schema can be released. Every pattern runs
 * on a linear-time engine (see `linear-pattern.ts`); one it cannot run fails the compile.
 *
 * Compiling is the expensive part of accepting a tool (milliseconds for a large schema), so each
 * distinct schema is compiled once: compiles of schemas with the same canonical JSON (keys sorted)
 * share one validator, counted by user. The admin API's write-time check and the live definitions
 * share one compiler, so serving a tool just validated is a lookup, and an imported API that
 * repeats a schema across operations compiles it once.
 *
 * Ajv's code generation is also deferred to the validator's first use: `compile` runs the checks
 * that decide whether the schema compiles (depth, patterns, the JSON Schema meta-schema, every
 * `$ref` pointing into the schema) and returns a validator that generates its code when first
 * called. Applying a thousand tools then costs the checks, not a thousand code generations of
 * several milliseconds each, which would hold the event loop once per schema; a tool pays for its
 * own code when first called. A schema the checks cannot vouch for (a `$ref` to another resource,
 * `$id`, `$anchor`, dynamic references) is compiled at once, as before. Should a deferred compile
 * fail all the same, the validator refuses every value with the reason: a tool is never run
 * unchecked.
 */
export interface SchemaCompiler {
  /** Compiles `schema`, or takes the validator of an equal schema compiled earlier; throws a {@link SchemaCompileError} saying what is wrong and where. */
  compile(schema: Record<string, unknown>): ArgumentValidator;
  /** Gives back one use of a schema compiled earlier (its tool replaced or deleted); the validator is freed with its last user. */
  release(schema: Record<string, unknown>): void;
  /** Distinct schemas currently compiled (each freed when its last user releases it). */
  readonly size: number;
  /** How many of them have generated their code (at once, or on their first call); optional for wrappers. */
  readonly generated?: number;
}

const DRAFT_07 = /draft-0[67]\/schema/;

/** Creates a {@link SchemaCompiler} with its own ajv instances (2020-12 default, draft-07 by `$schema`). */
export function createSchemaCompiler(): SchemaCompiler {
  const options = {
    strict: false,
    allErrors: false,
    addUsedSchema: false,
    $data: false,
    // `required: ["constructor"]` (or `toString`, `__proto__`) must not be met by what every
    // object inherits: properties are looked up as own properties.
    ownProperties: true,
    // Ajv's optimiser took more than half of compiling large schemas (an imported API's hundreds)
    // and made no measurable difference to validating with them: V8 optimises the plain code too.
    code: { regExp: linearRegExp, optimize: false },
  } as const;
  const modern = new Ajv2020(options);
  const draft07 = new Ajv(options);
  addFormats(modern);
  addFormats(draft07);
  // Ajv compiles a meta-schema on its first use, tens of milliseconds in one go: here, while the
  // gateway starts, rather than in the middle of the first change it applies.
  // (Typed as possibly async; the meta-schemas are not, so the answer is a boolean, not needed here.)
  void modern.validateSchema({});
  void draft07.validateSchema({});
  const pick = (schema: Record<string, unknown>) =>
    typeof schema.$schema === 'string' && DRAFT_07.test(schema.$schema) ? draft07 : modern;

  interface Entry {
    validate: ArgumentValidator;
    /** The object ajv compiles, which it caches by identity and `removeSchema` takes back. */
    schema: Record<string, unknown>;
    users: number;
    /** Ajv's validator, once generated (at once, or on the first call of `validate`). */
    compiled?: ValidateFunction;
    /** Why a deferred compile failed; every call answers with it. */
    failure?: string;
  }
  const entries = new Map<string, Entry>();
  // Which entry a compiled schema object counts in, so a release needs no second serialisation.
  const keys = new WeakMap<object, string>();

  function generate(entry: Entry): ValidateFunction {
    const ajv = pick(entry.schema);
    const validate = ajv.compile(entry.schema);
    // Released before its first call (a replaced tool's call still under way): ajv must not keep it.
    if (entry.users <= 0) ajv.removeSchema(entry.schema);
    return validate;
  }

  function deferred(entry: Entry): ArgumentValidator {
    return (value) => {
      let validate = entry.compiled;
      if (validate === undefined) {
        if (entry.failure !== undefined) return entry.failure;
        try {
          validate = entry.compiled = generate(entry);
        } catch (error) {
          entry.failure = `the schema could not be compiled: ${(error as Error).message}`;
          return entry.failure;
        }
      }
      return validate(value) ? undefined : formatErrors(validate.errors);
    };
  }

  return {
    compile(schema) {
      assertDepth(schema, 0);
      const key = schemaKey(schema);
      const known = entries.get(key);
      if (known !== undefined) {
        known.users += 1;
        keys.set(schema, key);
        return known.validate;
      }
      assertPatterns(schema, '');
      const entry: Entry = { schema, users: 1, validate: () => undefined };
      try {
        if (canDefer(schema)) {
          assertMetaValid(pick(schema), schema);
        } else {
          entry.compiled = pick(schema).compile(schema);
        }
      } catch (error) {
        if (error instanceof SchemaCompileError) throw error;
        throw new SchemaCompileError(`invalid JSON Schema: ${compileProblem(error)}`);
      }
      entry.validate = deferred(entry);
      entries.set(key, entry);
      keys.set(schema, key);
      return entry.validate;
    },
    release(schema) {
      const key = keys.get(schema) ?? schemaKey(schema);
      const entry = entries.get(key);
      if (entry === undefined) return;
      entry.users -= 1;
      if (entry.users > 0) return;
      entries.delete(key);
      if (entry.compiled !== undefined) pick(entry.schema).removeSchema(entry.schema);
    },
    get size() {
      return entries.size;
    },
    get generated() {
      let count = 0;
      for (const entry of entries.values()) if (entry.compiled !== undefined) count += 1;
      return count;
    },
  };
}

/** Ajv's reason a compile failed, with what to do where ajv's own words would not say. */
function compileProblem(error: unknown): string {
  // A `$ref` that leads to itself, directly or round a circle of `$ref`s, never reaches a schema.
  if (error instanceof RangeError) return 'its $refs go round in a circle without reaching a schema (a $ref to itself, or $refs that point at each other)';
  const message = (error as Error).message;
  if (/can't resolve reference # from/.test(message)) {
    return `${message}: a $ref to the whole schema ("#") is not supported; put the recursive part under $defs and refer to it as "#/$defs/<name>"`;
  }
  return message;
}

/** What ajv's compile would refuse first: the schema against its meta-schema, as ajv words it. */
function assertMetaValid(ajv: Ajv | Ajv2020, schema: Record<string, unknown>): void {
  if (ajv.validateSchema(schema) !== true) {
    throw new SchemaCompileError(`invalid JSON Schema: schema is invalid: ${ajv.errorsText(ajv.errors)}`);
  }
}

// Keywords that make a schema a resource of its own or refer across resources: ajv resolves them
// while compiling, so a schema holding one is compiled at once.
const RESOURCE_KEYWORDS = new Set(['$id', '$anchor', '$dynamicAnchor', '$dynamicRef', '$recursiveRef', '$recursiveAnchor']);

/**
 * True when the schema can be compiled later without surprise: beyond what the meta-schema and
 * the pattern check settle, ajv's compile fails only on references, so every `$ref` must be a
 * JSON Pointer into this schema that points at something, and no keyword may start another
 * resource. Iterative over every member, keywords or not: a `$ref` under `properties` is a
 * property named `$ref`, which costs only an eager compile.
 */
function canDefer(root: Record<string, unknown>): boolean {
  const stack: unknown[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    for (const [key, value] of Object.entries(node)) {
      if (RESOURCE_KEYWORDS.has(key) && typeof value === 'string') return false;
      if (key === '$ref' && typeof value === 'string' && !refCompilesLater(root, value)) return false;
      if (value !== null && typeof value === 'object') stack.push(value);
    }
  }
  return true;
}

/**
 * Whether the `$ref` `ref` can wait for the first call to be compiled: a pointer into `root` to a
 * schema of its own. The whole schema (`#`), which ajv cannot resolve in a schema without `$id` as
 * the compiler runs it, and a `$ref` to another `$ref`, which may go round in a circle that only
 * compiling finds, are compiled at once, so that their failure refuses the definition.
 */
function refCompilesLater(root: unknown, ref: string): boolean {
  const target = localRefTarget(root, ref);
  return target !== undefined && target !== root && !(typeof target === 'object' && Object.hasOwn(target, '$ref'));
}

/** The schema that `ref`, `#` or `#/json/pointer` (RFC 6901, percent-decoded as a URI fragment), points at in `root`; undefined when none. */
function localRefTarget(root: unknown, ref: string): boolean | object | undefined {
  if (!ref.startsWith('#')) return undefined;
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  if (fragment !== '' && !fragment.startsWith('/')) return undefined;
  let node = root;
  for (const token of fragment === '' ? [] : fragment.slice(1).split('/')) {
    const name = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, name)) return undefined;
    node = (node as Record<string, unknown>)[name];
  }
  return typeof node === 'boolean' || (node !== null && typeof node === 'object' && !Array.isArray(node)) ? node : undefined;
}

/** `ref` is `#` or `#/json/pointer` and resolves in `root` to a schema. */
export function localRefResolves(root: unknown, ref: string): boolean {
  return localRefTarget(root, ref) !== undefined;
}

/**
 * The cache key of a schema: a SHA-256 of its canonical JSON (object keys sorted, undefined
 * members left out, as JSON.stringify leaves them), so equal schemas meet whatever their key order,
 * and the map holds 64 characters per schema rather than its text.
 */
function schemaKey(schema: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  let text = '';
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined || typeof member === 'function') continue;
    text += `${text === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `{${text}}`;
}

function assertDepth(value: unknown, depth: number): void {
  if (depth > MAX_SCHEMA_DEPTH) throw new SchemaCompileError(`JSON Schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) assertDepth(child, depth + 1);
  }
}

// Keywords whose values are schemas (draft-07 and 2020-12), to find every pattern with its place.
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'];
const SCHEMA_KEYWORDS = [
  'additionalProperties',
  'propertyNames',
  'items',
  'additionalItems',
  'contains',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
];
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];

const pointer = (key: string) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

/**
 * Compiles every `pattern` and `patternProperties` key of `schema` on the linear-time engine, so
 * one it cannot run is refused with its place in the schema. ajv compiles the same patterns with
 * the same engine and would refuse them anyway, without saying where.
 */
function assertPatterns(schema: unknown, at: string): void {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return;
  const node = schema as Record<string, unknown>;
  const check = (pattern: string, where: string) => {
    try {
      compileLinearPattern(pattern);
    } catch (error) {
      if (error instanceof PatternError) throw new SchemaCompileError(error.message, where);
      throw error;
    }
  };
  if (typeof node.pattern === 'string') check(node.pattern, `${at}/pattern`);
  const patternProperties = node.patternProperties;
  if (patternProperties !== null && typeof patternProperties === 'object' && !Array.isArray(patternProperties)) {
    for (const key of Object.keys(patternProperties)) check(key, `${at}/patternProperties${pointer(key)}`);
  }
  for (const keyword of SCHEMA_MAP_KEYWORDS) {
    const map = node[keyword];
    if (map === null || typeof map !== 'object' || Array.isArray(map)) continue;
    for (const [key, child] of Object.entries(map)) assertPatterns(child, `${at}${pointer(keyword)}${pointer(key)}`);
  }
  for (const keyword of SCHEMA_KEYWORDS) assertPatterns(node[keyword], `${at}${pointer(keyword)}`);
  for (const keyword of SCHEMA_LIST_KEYWORDS) {
    const list = node[keyword];
    if (Array.isArray(list)) list.forEach((child, index) => assertPatterns(child, `${at}${pointer(keyword)}/${index}`));
  }
}

/** Formats ajv errors as `"<path> <message>"` lines a model or operator can act on. */
export function formatErrors(errors: ErrorObject[] | null | undefined, root = ''): string {
  if (!errors || errors.length === 0) return 'value is invalid';
  return errors
    .slice(0, 5)
    .map((error) => {
      const at = `${root}${error.instancePath}` || '(root)';
      if (error.keyword === 'additionalProperties') {
        return `${at} has unknown property "${String(error.params.additionalProperty)}"`;
      }
      if (error.keyword === 'required') return `${at} must have property "${String(error.params.missingProperty)}"`;
      if (error.keyword === 'enum') return `${at} must be one of ${JSON.stringify(error.params.allowedValues)}`;
      return `${at} ${error.message ?? 'is invalid'}`;
    })
    .join('; ');
}
