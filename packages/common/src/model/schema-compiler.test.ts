import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import { compileToolDefinition } from './definitions.js';
import { createSchemaCompiler, SchemaCompileError } from './schema-compiler.js';

const EVIL: Array<[string, string]> = [
  ['^(a+)+$', `${'a'.repeat(10_000)}!`],
  ['(x+x+)+y', 'x'.repeat(10_000)],
  ['^(([a-z])+.)+[A-Z]([a-z])+$', `${'a'.repeat(10_000)}!`],
];

/** Runs `validate` and asserts it answered `expected` within 100 ms. */
function fast(check: () => string | undefined, what: string): string | undefined {
  const started = performance.now();
  const problem = check();
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 100, `${what} took ${elapsed.toFixed(1)} ms`);
  return problem;
}

test('every place a schema puts a pattern runs it in linear time', () => {
  const compiler = createSchemaCompiler();
  for (const [pattern, input] of EVIL) {
    // Each schema reaches the pattern by another keyword; each value below is tested by it.
    const cases: Array<[Record<string, unknown>, unknown]> = [
      [{ type: 'object', properties: { s: { type: 'string', pattern } } }, { s: input }],
      [{ type: 'object', patternProperties: { [pattern]: { type: 'string' } }, additionalProperties: false }, { [input]: 'x' }],
      [{ type: 'object', propertyNames: { pattern } }, { [input]: 1 }],
      [{ type: 'object', properties: { list: { type: 'array', items: { type: 'string', pattern } } } }, { list: ['ok', input] }],
      [{ type: 'object', properties: { s: { $ref: '#/$defs/evil' } }, $defs: { evil: { type: 'string', pattern } } }, { s: input }],
      [{ type: 'object', properties: { s: { anyOf: [{ type: 'number' }, { type: 'string', pattern }] } } }, { s: input }],
      [
        { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { s: { type: 'string', pattern } } },
        { s: input },
      ],
      [
        { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', dependencies: { s: { properties: { t: { pattern } } } } },
        { s: 1, t: input },
      ],
    ];
    for (const [schema, value] of cases) {
      const validate = compiler.compile(schema);
      // The first call generates the validator's code; the time under test is the pattern's.
      validate(null);
      const problem = fast(() => validate(value), `${pattern} via ${JSON.stringify(schema).slice(0, 80)}`);
      assert.notEqual(problem, undefined, `${pattern} must reject the adversarial value via ${JSON.stringify(schema)}`);
    }
  }
});

test('patterns keep their JSON Schema meaning: unanchored, Unicode-aware, each one its own', () => {
  const compiler = createSchemaCompiler();
  const validate = compiler.compile({
    type: 'object',
    properties: {
      part: { type: 'string', pattern: 'b' },
      name: { type: 'string', pattern: '^\\p{Lu}\\p{Ll}+$' },
      emoji: { type: 'string', pattern: '^\\u{1F600}.$' },
      greek: { type: 'string', pattern: '^\\p{Script=Greek}+$' },
    },
    patternProperties: { '^x-\\p{L}+$': { type: 'integer' } },
  });
  assert.equal(validate({ part: 'abc', name: 'Élan', emoji: '😀😃', greek: 'αβγ', 'x-é': 1 }), undefined);
  assert.match(validate({ part: 'xyz' }) ?? '', /\/part must match pattern "b"/);
  assert.match(validate({ name: 'élan' }) ?? '', /\/name must match pattern/);
  assert.match(validate({ emoji: '😀ab' }) ?? '', /\/emoji must match pattern/);
  assert.match(validate({ greek: 'abc' }) ?? '', /\/greek must match pattern/);
  assert.match(validate({ 'x-é': 'no' }) ?? '', /\/x-é must be integer/);
  // A second schema with other patterns on the same compiler does not reuse the first ones.
  const other = compiler.compile({ type: 'object', properties: { part: { type: 'string', pattern: 'z' } } });
  assert.equal(other({ part: 'xyz' }), undefined);
  assert.notEqual(other({ part: 'abc' }), undefined);
});

test('required properties named like what every object inherits are required like any other', () => {
  const validate = createSchemaCompiler().compile({ type: 'object', required: ['constructor', 'toString', '__proto__'] });
  const problem = validate({});
  assert.match(problem ?? '', /must have property "constructor"/);
  assert.equal(validate(JSON.parse('{"constructor": 1, "toString": 2, "__proto__": 3}')), undefined);
  assert.match(validate(JSON.parse('{"constructor": 1, "toString": 2}')) ?? '', /must have property "__proto__"/);
});

test('recursive schemas: through $defs they compile and validate; a $ref to the whole schema, or a circle of $refs, is refused when compiled', () => {
  const compiler = createSchemaCompiler();
  const tree = compiler.compile({
    $defs: { node: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' } } } } },
    $ref: '#/$defs/node',
  });
  assert.equal(tree({ kids: [{ kids: [] }] }), undefined);
  assert.match(tree({ kids: [{ kids: 5 }] }) ?? '', /kids\/0\/kids must be array/);

  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ type: 'object', properties: { x: { $ref: '#' } } }, /a \$ref to the whole schema \("#"\) is not supported; put the recursive part under \$defs/],
    [{ $defs: { a: { $ref: '#/$defs/a' } }, properties: { p: { $ref: '#/$defs/a' } } }, /its \$refs go round in a circle without reaching a schema/],
    [{ $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } }, properties: { p: { $ref: '#/$defs/a' } } }, /go round in a circle/],
  ];
  for (const [schema, pattern] of refused) {
    assert.throws(() => compiler.compile(schema), (error: unknown) => error instanceof SchemaCompileError && pattern.test(error.message), JSON.stringify(schema));
  }
  // A $ref to a $ref that does reach a schema compiles.
  const chain = compiler.compile({ $defs: { a: { $ref: '#/$defs/b' }, b: { type: 'string' } }, properties: { p: { $ref: '#/$defs/a' } } });
  assert.match(chain({ p: 1 }) ?? '', /p must be string/);
});

test('a pattern the linear-time engine cannot run fails the compile, naming it and where it is', () => {
  const compiler = createSchemaCompiler();
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ type: 'object', properties: { code: { type: 'string', pattern: '^(a)\\1$' } } }, '/properties/code/pattern', /backreference/],
    [{ type: 'object', patternProperties: { '^(?=x)a/b': {} } }, '/patternProperties/^(?=x)a~1b', /lookahead/],
    [{ type: 'object', propertyNames: { pattern: '(?<=a)b' } }, '/propertyNames/pattern', /lookbehind/],
    [{ type: 'object', properties: { l: { items: [{ pattern: '\\p{Emoji}' }] } } }, '/properties/l/items/0/pattern', /Emoji/],
    [{ type: 'object', $defs: { x: { anyOf: [{}, { pattern: 'a{5000}' }] } } }, '/$defs/x/anyOf/1/pattern', /repeat count/],
    [{ type: 'object', properties: { s: { not: { pattern: '(' } } } }, '/properties/s/not/pattern', /not a valid ECMA-262/],
  ];
  for (const [schema, at, reason] of cases) {
    assert.throws(
      () => compiler.compile(schema),
      (error: unknown) => {
        assert.ok(error instanceof SchemaCompileError, String(error));
        assert.equal(error.at, at);
        assert.match(error.message, reason);
        return true;
      },
    );
  }
  // A property merely named "pattern" is no pattern.
  assert.equal(compiler.compile({ type: 'object', properties: { pattern: { type: 'string' } } })({ pattern: '(a)\\1' }), undefined);
});

test('a tool definition is refused with the pattern and its path, in input and output schemas', () => {
  const compiler = createSchemaCompiler();
  const tool = (extra: Record<string, unknown>) => ({
    id: 't',
    name: 't',
    input_schema: { type: 'object' },
    tds_ext_info: { domain: 'http://127.0.0.1:9', method: 'GET', path: '/' },
    ...extra,
  });
  const input = tool({ input_schema: { type: 'object', properties: { q: { type: 'string', pattern: '^(\\w)\\1$' } } } });
  assert.throws(
    () => compileToolDefinition(input, compiler),
    (error: unknown) =>
      error instanceof GatewayError &&
      error.code === 'INVALID_PAYLOAD' &&
      error.message.includes('/input_schema/properties/q/pattern') &&
      error.message.includes(JSON.stringify('^(\\w)\\1$')),
  );
  const output = tool({ output_schema: { type: 'object', properties: { r: { type: 'string', pattern: 'x(?!y)' } } } });
  assert.throws(
    () => compileToolDefinition(output, compiler),
    (error: unknown) =>
      error instanceof GatewayError && error.message.includes('/output_schema/properties/r/pattern') && /lookahead/.test(error.message),
  );
  const compiled = compileToolDefinition(
    tool({ output_schema: { type: 'object', properties: { r: { type: 'string', pattern: '^(x+x+)+y$' } } } }),
    compiler,
  );
  compiled.validateOutput?.(null);
  assert.notEqual(fast(() => compiled.validateOutput?.({ r: 'x'.repeat(10_000) }), 'output check'), undefined);
  compiled.release();
});

test('equal schemas compile once, whatever their key order, and are freed with their last user', () => {
  const compiler = createSchemaCompiler();
  const first = { type: 'object', properties: { q: { type: 'string', minLength: 2 } }, required: ['q'] };
  const reordered = { required: ['q'], properties: { q: { minLength: 2, type: 'string' } }, type: 'object' };
  const other = { type: 'object', properties: { q: { type: 'string', minLength: 3 } }, required: ['q'] };
  const validate = compiler.compile(first);
  assert.equal(compiler.compile(reordered), validate, 'an equal schema must reuse the compiled validator');
  assert.notEqual(compiler.compile(other), validate);
  assert.equal(compiler.size, 2);

  compiler.release(first);
  assert.equal(compiler.size, 2, 'the reordered copy still uses the validator');
  assert.equal(validate({ q: 'a' }), '/q must NOT have fewer than 2 characters');
  compiler.release(reordered);
  assert.equal(compiler.size, 1);
  compiler.release(other);
  assert.equal(compiler.size, 0);
  // Compiled afresh after being freed, and a release of something never compiled changes nothing.
  compiler.release(first);
  assert.notEqual(compiler.compile({ ...first }), validate);
  assert.equal(compiler.size, 1);
});

test('a schema that fails to compile leaves nothing cached, and fails again', () => {
  const compiler = createSchemaCompiler();
  const bad = { type: 'object', properties: { s: { type: 'string', pattern: '(?<=a)b' } } };
  assert.throws(() => compiler.compile(bad), SchemaCompileError);
  assert.throws(() => compiler.compile(structuredClone(bad)), SchemaCompileError);
  assert.equal(compiler.size, 0);
});

test('two tools sharing a schema share its validator; releasing one leaves the other working', () => {
  const compiler = createSchemaCompiler();
  const tool = (id: string) => ({
    id,
    name: id,
    input_schema: { type: 'object', properties: { n: { type: 'integer' } } },
    tds_ext_info: { domain: 'http://127.0.0.1:9', method: 'GET', path: '/' },
  });
  const a = compileToolDefinition(tool('a'), compiler);
  const b = compileToolDefinition(tool('b'), compiler);
  assert.equal(a.validateArguments, b.validateArguments);
  assert.equal(compiler.size, 1);
  a.release();
  assert.equal(b.validateArguments({ n: 'x' }), '/n must be integer');
  b.release();
  assert.equal(compiler.size, 0);
});

test('a schema is checked at compile and its code generated on first use; what the checks cannot vouch for compiles at once', () => {
  const compiler = createSchemaCompiler();
  const schema = { type: 'object', properties: { n: { $ref: '#/$defs/count' } }, $defs: { count: { type: 'integer', minimum: 0 } } };
  const validate = compiler.compile(schema);
  assert.equal(compiler.generated, 0, 'the code must wait for the first call');
  assert.equal(validate({ n: -1 }), '/n must be >= 0');
  assert.equal(compiler.generated, 1);
  assert.equal(validate({ n: 2 }), undefined);

  // The meta-schema is checked at once, with ajv's own words.
  assert.throws(
    () => compiler.compile({ type: 'object', properties: { n: { type: 'integr' } } }),
    (error: unknown) => error instanceof SchemaCompileError && /^invalid JSON Schema: schema is invalid: .*properties\/n\/type/.test(error.message),
  );
  // References that do not resolve into the schema are compiled (and refused) at once.
  for (const ref of ['#/$defs/missing', 'other.json#/x']) {
    assert.throws(() => compiler.compile({ type: 'object', required: ['n'], properties: { n: { $ref: ref } } }), SchemaCompileError, ref);
  }
  // A schema that is a resource of its own is compiled at once, and works.
  const withId = compiler.compile({ $id: 'https://example.com/s', type: 'object', properties: { s: { type: 'string' } } });
  assert.equal(compiler.generated, 2);
  assert.equal(withId({ s: 1 }), '/s must be string');
  assert.equal(compiler.size, 2);
  assert.equal(validate({ n: 'x' }), '/n must be integer');
});

test('a validator released before its first call still checks, and leaves nothing compiled behind', () => {
  const compiler = createSchemaCompiler();
  const schema = { type: 'object', properties: { q: { type: 'string', maxLength: 2 } } };
  const validate = compiler.compile(schema);
  compiler.release(schema);
  assert.equal(compiler.size, 0);
  // A call of a replaced tool still under way.
  assert.equal(validate({ q: 'abc' }), '/q must NOT have more than 2 characters');
  assert.equal(compiler.generated, 0);
  // Compiled afresh, the same schema object works again.
  assert.equal(compiler.compile(schema)({ q: 'ab' }), undefined);
});
