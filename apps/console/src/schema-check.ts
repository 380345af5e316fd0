// Checks a value against the admin API's published JSON Schemas (GET /admin/schemas/tds and
// /admin/schemas/ids) in the browser, before anything is sent. A compiling validator (ajv) builds
// code with `new Function`, which the console's Content-Security-Policy forbids, so this walks the
// schema instead. It knows the keywords those two schemas use; the gateway checks everything again
// on write, and its answer is shown next to the field it names.

type Schema = Record<string, unknown>;

/** One problem: the JSON Pointer of the value it concerns, and what is wrong. */
export interface SchemaProblem {
  pointer: string;
  message: string;
}

const typeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** The problems of `value` against `schema` (empty when it conforms), at most `max`. */
export function checkSchema(schema: Schema, value: unknown, pointer = '', max = 20): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  walk(schema, value, pointer, problems);
  return problems.slice(0, max);
}

function walk(schema: Schema, value: unknown, at: string, problems: SchemaProblem[]): void {
  const add = (message: string, pointer = at) => void problems.push({ pointer, message });
  const type = schema.type;
  if (typeof type === 'string' && !hasType(value, type)) {
    add(`must be ${type === 'object' || type === 'array' || type === 'integer' ? 'an' : 'a'} ${type}`);
    return;
  }
  if (Array.isArray(type) && !type.some((t) => hasType(value, String(t)))) {
    add(`must be one of the types ${type.join(', ')}`);
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
    add(`must be one of ${schema.enum.map((option) => JSON.stringify(option)).join(', ')}`);
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = schema.oneOf.filter((option) => checkSchema(option as Schema, value, at).length === 0).length;
    if (matching !== 1) add(matching === 0 ? 'matches none of the allowed shapes' : 'matches more than one allowed shape');
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) add(`must have at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) add(`must have at most ${schema.maxLength} characters`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) add(`must match the pattern ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) add(`must be at least ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) add(`must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) add(`must have at most ${schema.maxItems} items`);
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) add(`must have at least ${schema.minItems} items`);
    if (schema.uniqueItems === true && new Set(value.map((item) => JSON.stringify(item))).size !== value.length) add('must not repeat an item');
    if (isSchema(schema.items)) value.forEach((item, index) => walk(schema.items as Schema, item, `${at}/${index}`, problems));
  }
  if (typeOf(value) === 'object') walkObject(schema, value as Record<string, unknown>, at, problems);
}

function walkObject(schema: Schema, value: Record<string, unknown>, at: string, problems: SchemaProblem[]): void {
  const properties = isSchema(schema.properties) ? (schema.properties as Record<string, Schema>) : {};
  if (Array.isArray(schema.required)) {
    for (const name of schema.required) {
      if (!(String(name) in value)) problems.push({ pointer: `${at}/${escape(String(name))}`, message: 'is required' });
    }
  }
  const keys = Object.keys(value);
  if (typeof schema.maxProperties === 'number' && keys.length > schema.maxProperties) {
    problems.push({ pointer: at, message: `must have at most ${schema.maxProperties} properties` });
  }
  for (const key of keys) {
    const child = `${at}/${escape(key)}`;
    if (isSchema(schema.propertyNames)) walk(schema.propertyNames as Schema, key, child, problems);
    const property = properties[key];
    if (property !== undefined) walk(property, value[key], child, problems);
    else if (schema.additionalProperties === false) problems.push({ pointer: child, message: 'is not a known property' });
    else if (isSchema(schema.additionalProperties)) walk(schema.additionalProperties as Schema, value[key], child, problems);
  }
}

function isSchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
