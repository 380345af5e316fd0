import { Ajv2020 } from 'ajv/dist/2020.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2020) => void;

/** Deepest nesting accepted in an admin-supplied JSON Schema (guards ajv's recursion). */
export const MAX_SCHEMA_DEPTH = 32;

/** Checks a value against a compiled schema; returns a message saying what is wrong, or undefined. */
export type ArgumentValidator = (value: unknown) => string | undefined;

/**
 * Compiles admin-supplied JSON Schemas (tool input and output schemas). Schemas are treated as
 * untrusted: depth is capped, `$data` is off, unknown keywords are tolerated (OpenAPI-generated
 * schemas carry `example`, `nullable`…) and compiled schemas are never registered by `$id`, so two
 * tools may use the same `$id` and a replaced tool's schema can be released.
 */
export interface SchemaCompiler {
  /** Compiles `schema`; throws an Error whose message says what is wrong with the schema. */
  compile(schema: Record<string, unknown>): ArgumentValidator;
  /** Releases a schema compiled earlier (when its tool is replaced or deleted). */
  release(schema: Record<string, unknown>): void;
}

const DRAFT_07 = /draft-0[67]\/schema/;

/** Creates a {@link SchemaCompiler} with its own ajv instances (2020-12 default, draft-07 by `$schema`). */
export function createSchemaCompiler(): SchemaCompiler {
  const options = { strict: false, allErrors: false, addUsedSchema: false, $data: false } as const;
  const modern = new Ajv2020(options);
  const draft07 = new Ajv(options);
  addFormats(modern);
  addFormats(draft07);
  const pick = (schema: Record<string, unknown>) =>
    typeof schema.$schema === 'string' && DRAFT_07.test(schema.$schema) ? draft07 : modern;

  return {
    compile(schema) {
      assertDepth(schema, 0);
      let validate: ValidateFunction;
      try {
        validate = pick(schema).compile(schema);
      } catch (error) {
        throw new Error(`invalid JSON Schema: ${(error as Error).message}`);
      }
      return (value) => (validate(value) ? undefined : formatErrors(validate.errors));
    },
    release(schema) {
      pick(schema).removeSchema(schema);
    },
  };
}

function assertDepth(value: unknown, depth: number): void {
  if (depth > MAX_SCHEMA_DEPTH) throw new Error(`JSON Schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`);
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) assertDepth(child, depth + 1);
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
