import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpExecutor } from '@dynmcp/core';
import { isGatewayError, silentLogger } from '@dynmcp/plugin';
import type { ToolDefinition } from '@dynmcp/plugin';
import { startUpstream } from '@dynmcp/testing';
import type { TestUpstream } from '@dynmcp/testing';
import { stringify as toYaml } from 'yaml';
import { createImportPlanner, DEFAULT_IMPORT_LIMITS, planImport } from './index.js';
import type { ImportInput, ImportLimits } from './index.js';
import { assertToolsValid, PETS_OPENAPI_31_YAML, petsOpenApi30, petsSwagger2, toolNamed } from '../test-support/openapi-documents.js';
import { withoutCodeFrame } from './read-document.js';

// Tests load the worker through tsx, which takes seconds on a busy machine; the limit under test
// is set explicitly where it matters.
const LIMITS: ImportLimits = { ...DEFAULT_IMPORT_LIMITS, timeoutMs: 60_000 };

const input = (document: unknown, extra: Partial<ImportInput> = {}): ImportInput => ({ document, instanceId: 'pets', ...extra });

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string; status: number }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isGatewayError(error), `not a GatewayError: ${String(error)}`);
    return { code: error.code, message: error.message, status: error.status };
  }
  assert.fail('expected a refusal');
}

const minimal = (paths: unknown, extra: Record<string, unknown> = {}) => ({ openapi: '3.0.3', info: { title: 't', version: '1' }, paths, ...extra });

describe('planImport', () => {
  it('maps an OpenAPI 3.1 YAML text', async () => {
    const plan = await planImport(input(PETS_OPENAPI_31_YAML, { toolIdPrefix: 'yaml-' }), LIMITS);
    assert.equal(plan.title, 'Pets YAML');
    assert.equal(plan.version, '2');
    const tool = toolNamed(plan.tools, 'getPet');
    assert.equal(tool.id, 'yaml-getPet');
    assert.deepEqual(tool.tds_ext_info.domain, 'http://127.0.0.1:1');
    assert.deepEqual(tool.tds_ext_info.path, '/api/pets/{id}');
    assert.deepEqual(tool.input_schema, {
      type: 'object',
      properties: {
        path: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        query: { type: 'object', properties: { fields: { type: ['string', 'null'], examples: ['name'] } } },
      },
      required: ['path'],
    });
    assert.deepEqual(tool.output_schema, { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } });
    await assertToolsValid(plan.tools);
  });

  it('upgrades Swagger 2.0: host + basePath, body parameter, collectionFormat, security definitions', async () => {
    const plan = await planImport(input(petsSwagger2(), { auth: { key: '${env:PETS_KEY}', basic: 'Basic ${secret:pets_basic}' } }), LIMITS);
    const list = toolNamed(plan.tools, 'listPets');
    assert.equal(list.tds_ext_info.domain, 'https://legacy.pets.example.com');
    assert.equal(list.tds_ext_info.path, '/api/v2/pets');
    assert.deepEqual(list.tds_ext_info.ext_info?.['parameters'], { query: { tags: { name: 'tags', style: 'pipeDelimited', explode: false } } });
    assert.deepEqual(list.tds_ext_info.ext_info?.['headers'], { 'X-Key': '${env:PETS_KEY}' });
    const add = toolNamed(plan.tools, 'addPet');
    assert.deepEqual(add.input_schema['required'], ['body']);
    assert.deepEqual((add.input_schema['properties'] as Record<string, unknown>)['body'], { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 50 } } });
    assert.deepEqual(add.tds_ext_info.ext_info?.['headers'], { Authorization: 'Basic ${secret:pets_basic}' });
    assert.deepEqual(plan.skipped, []);
    // A formData file parameter is a multipart body whose file takes the executor's file value.
    const upload = toolNamed(plan.tools, 'uploadPhoto');
    assert.deepEqual(upload.tds_ext_info.ext_info?.['body'], { content_type: 'multipart/form-data' });
    const body = (upload.input_schema['properties'] as Record<string, Record<string, unknown>>)['body'];
    assert.deepEqual(body?.['required'], ['file']);
    assert.deepEqual((body?.['properties'] as Record<string, Record<string, unknown>>)['file']?.['required'], ['content_base64']);
    await assertToolsValid(plan.tools);
  });

  it('maps an OpenAPI 3.0 object whose tools all pass the definition and executor checks', async () => {
    const plan = await planImport(input(petsOpenApi30(), { auth: { bearer: 'Bearer ${env:PETS_TOKEN}' } }), LIMITS);
    assert.equal(plan.tools.length, 6);
    await assertToolsValid(plan.tools);
  });

  it('reads JSON and YAML text that starts with a byte-order mark', async () => {
    for (const text of [`\uFEFF${JSON.stringify(petsOpenApi30())}`, `\uFEFF${toYaml(petsOpenApi30())}`]) {
      const plan = await planImport(input(text), LIMITS);
      assert.equal(plan.tools.length, 6);
    }
  });

  it('refuses documents that are not OpenAPI, with the place of the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [{ hello: 'world' }, /^\/: not an OpenAPI document/],
      [[1, 2], /^\/: the document must be a JSON or YAML object/],
      ['openapi: [unclosed', /neither JSON nor valid YAML \(line 1, column/],
      ['{"openapi": ', /not valid JSON/],
      [{ openapi: '3.2.0', info: {}, paths: {} }, /^\/openapi: version "3.2.0" is not supported/],
      [{ swagger: '1.2' }, /^\/swagger: version "1.2" is not supported/],
      [minimal({ '/a': { get: { responses: { 200: { $ref: '#/components/responses/Nope' } } } } }), /^\/paths\/~1a\/get\/responses\/200\/\$ref: "#\/components\/responses\/Nope" points at nothing/],
      // The parser's finding and the line it marks, without its code frame (numbered as a JSON rendering, not as the text sent).
      [minimal({}, { info: { version: '1' } }), /does not follow the OpenAPI specification: REQUIRED must have required property 'title' \(at "info": \{: title is missing here!\)$/],
    ];
    for (const [document, message] of cases) {
      const error = await refusal(planImport(input(document), LIMITS));
      assert.equal(error.code, 'INVALID_OPENAPI', String(message));
      assert.equal(error.status, 400);
      assert.match(error.message, message);
    }
  });

  it("keeps the parser's finding and the line it marks, not its code frame", () => {
    const frame = 'TYPE must be string\n\n   7 |         "responses": {\n>  9 |             "description": 5\n     |                            ^ type must be string\n  10 |           }';
    assert.equal(withoutCodeFrame(frame), 'TYPE must be string (at "description": 5: type must be string)');
    assert.equal(withoutCodeFrame('REQUIRED must have required property \'title\''), "REQUIRED must have required property 'title'");
  });

  it('refuses options it cannot use before reading the document', async () => {
    const cases: [Partial<ImportInput>, RegExp][] = [
      [{ auth: { bearer: 'Bearer ${PETS_TOKEN}' } }, /^auth.bearer: "\$\{" must start a reference/],
      [{ auth: { bearer: 'Bearer\r\nX: 1' } }, /^auth.bearer must be a string without CR, LF or NUL/],
      [{ baseUrl: '/v1' }, /base_url URL "\/v1" is not absolute/],
      [{ toolIdPrefix: 'a/b' }, /^tool_id_prefix must be/],
      [{ include: { paths: [1] } } as never, /^include.paths must be a list of strings/],
    ];
    for (const [extra, message] of cases) {
      const error = await refusal(planImport(input(petsOpenApi30(), extra), LIMITS));
      assert.equal(error.code, 'INVALID_PAYLOAD');
      assert.match(error.message, message);
    }
  });

  it('refuses a document over the size cap', async () => {
    const text = JSON.stringify(petsOpenApi30());
    const small = { ...LIMITS, maxBytes: 1000 };
    const fromText = await refusal(planImport(input(text), small));
    assert.deepEqual({ ...fromText, message: undefined }, { code: 'OPENAPI_TOO_LARGE', status: 400, message: undefined });
    assert.match(fromText.message, /larger than 1000 bytes/);
    assert.equal((await refusal(planImport(input(petsOpenApi30()), small))).code, 'OPENAPI_TOO_LARGE');
  });

  describe('remote references', () => {
    let upstream: TestUpstream;
    before(async () => {
      upstream = await startUpstream();
    });
    after(async () => {
      await upstream.close();
    });

    it('refuses them with their place and never fetches them', async () => {
      const schema = { $ref: `${upstream.url}/schemas.json#/Pet` };
      const document = minimal({ '/a': { get: { responses: { 200: { description: 'x', content: { 'application/json': { schema } } } } } } });
      const error = await refusal(planImport(input(document), LIMITS));
      assert.equal(error.code, 'INVALID_OPENAPI');
      assert.match(error.message, /^\/paths\/~1a\/get\/responses\/200\/content\/application~1json\/schema\/\$ref: ".*" points outside the document; remote and file references are never fetched/);
      const fileRef = await refusal(planImport(input(minimal({}, { components: { schemas: { A: { $ref: 'other.yaml#/A' } } } })), LIMITS));
      assert.match(fileRef.message, /^\/components\/schemas\/A\/\$ref: "other.yaml#\/A" points outside the document/);
      assert.equal(upstream.hits.length, 0);
    });
  });
});

describe('createImportPlanner', () => {
  it('keeps a worker waiting ahead of the next document, a new one after each, none after close', async () => {
    const planner = createImportPlanner(LIMITS, { warm: true });
    try {
      assert.equal(planner.waiting, false, 'the first worker waits for warmUp');
      planner.warmUp();
      assert.equal(planner.waiting, true);
      // Still there a moment later: a worker that waits for its request does not end on its own.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(planner.waiting, true, 'the waiting worker ended');
      assert.equal((await planner.plan(input(petsOpenApi30()))).tools.length, 6);
      assert.equal(planner.waiting, true, 'no worker started for the next document');
      // A refused document leaves a waiting worker too, and the next document is mapped by it.
      assert.equal((await refusal(planner.plan(input({ hello: 'world' })))).code, 'INVALID_OPENAPI');
      assert.equal(planner.waiting, true);
      assert.equal((await planner.plan(input(PETS_OPENAPI_31_YAML))).tools.length > 0, true);
    } finally {
      await planner.close();
    }
    assert.equal(planner.waiting, false);
    const cold = createImportPlanner(LIMITS, { warm: false });
    cold.warmUp();
    assert.equal(cold.waiting, false);
    assert.equal((await cold.plan(input(petsOpenApi30()))).tools.length, 6);
    assert.equal(cold.waiting, false);
    await cold.close();
  });
});

describe('planImport against hostile documents', () => {
  /** Twelve levels of ten references each: 10^12 nodes once expanded. */
  function refBomb(): Record<string, unknown> {
    const schemas: Record<string, unknown> = { L0: { type: 'string' } };
    for (let level = 1; level <= 12; level++) {
      const properties = Object.fromEntries(Array.from({ length: 10 }, (_, index) => [`p${index}`, { $ref: `#/components/schemas/L${level - 1}` }]));
      schemas[`L${level}`] = { type: 'object', properties };
    }
    return schemas;
  }
  const bombResponse = { description: 'x', content: { 'application/json': { schema: { $ref: '#/components/schemas/L12' } } } };

  it('skips an operation whose arguments\' $ref bomb expands past the node limit, and maps the rest', async () => {
    const body = { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/L12' } } } };
    const paths = { '/x': { post: { requestBody: body, responses: { 200: { description: 'x' } } } }, '/y': { get: { responses: { 200: { description: 'y' } } } } };
    const document = minimal(paths, { components: { schemas: refBomb() }, servers: [{ url: 'https://x.example.com' }] });
    const plan = await planImport(input(document), LIMITS);
    assert.deepEqual(plan.tools.map((tool) => tool.name), ['get_y']);
    assert.equal(plan.skipped.length, 1);
    assert.equal(plan.skipped[0]?.operation, 'POST /x');
    assert.match(plan.skipped[0]?.reason ?? '', /expand to more than 20000 nodes after resolving \$refs/);
  });

  it('imports an operation whose answer schema is a $ref bomb without output_schema, and says so', async () => {
    const paths = { '/x': { get: { responses: { 200: bombResponse } } } };
    const document = minimal(paths, { components: { schemas: refBomb() }, servers: [{ url: 'https://x.example.com' }] });
    const plan = await planImport(input(document), LIMITS);
    assert.deepEqual(plan.tools.map((tool) => tool.name), ['get_x']);
    assert.equal(plan.tools[0]?.output_schema, undefined);
    assert.deepEqual(plan.skipped, []);
    assert.ok(plan.warnings.some((warning) => /^GET \/x: its 2xx response schema expands to more than 20000 nodes .*imported without output_schema$/.test(warning)), plan.warnings.join('\n'));
  });

  it('stops a document at the time limit without blocking the event loop', async () => {
    // Ten thousand operations each expanding the bomb up to the node limit: minutes of mapping.
    const paths = Object.fromEntries(Array.from({ length: 10_000 }, (_, index) => [`/x${index}`, { get: { responses: { 200: bombResponse } } }]));
    const document = minimal(paths, { components: { schemas: refBomb() }, servers: [{ url: 'https://x.example.com' }] });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 100);
    const started = Date.now();
    try {
      const error = await refusal(planImport(input(document), { ...LIMITS, timeoutMs: 8_000 }));
      assert.equal(error.code, 'OPENAPI_TOO_COMPLEX');
      assert.equal(error.status, 400);
      assert.match(error.message, /within the import limits \(over 8000 ms\)/);
    } finally {
      clearInterval(ticker);
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
    // The event loop kept running while the worker worked (at least a third of the expected ticks on a busy machine).
    assert.ok(ticks >= 25, `only ${ticks} ticks in ${elapsed} ms`);
  });

  it('stops a document that needs more memory than the worker may use', async () => {
    const big = Array.from({ length: 400_000 }, (_, index) => ({ n: index, s: 'x'.repeat(8) }));
    const text = JSON.stringify(minimal({}, { 'x-big': big }));
    const error = await refusal(planImport(input(text), { ...LIMITS, maxHeapMb: 16 }));
    assert.equal(error.code, 'OPENAPI_TOO_COMPLEX');
    assert.match(error.message, /over 16 MB of memory/);
  });

  it('refuses a YAML alias bomb', async () => {
    const lines = ['openapi: 3.0.3', 'info: { title: t, version: "1" }', 'paths: {}', 'x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level <= 9; level++) lines.push(`x-a${level}: &a${level} [${Array.from({ length: 10 }, () => `*a${level - 1}`).join(', ')}]`);
    const error = await refusal(planImport(input(lines.join('\n')), LIMITS));
    assert.equal(error.code, 'INVALID_OPENAPI');
  });
});

describe('imported tools against a real upstream', () => {
  let upstream: TestUpstream;
  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await upstream.close();
  });

  it('send renamed and styled parameters under their real names, with the referenced credential', async () => {
    const plan = await planImport(input(petsOpenApi30(), { baseUrl: `${upstream.url}/v1`, auth: { bearer: 'Bearer ${env:PETS_TOKEN}' } }), LIMITS);
    const executor = createHttpExecutor({
      defaultTimeoutMs: 5000,
      maxResponseBytes: 1 << 20,
      env: { PETS_TOKEN: 't0k3n' },
      toolEnvAllow: ['PETS_TOKEN'],
      egress: { allow: ['127.0.0.1'] },
    });
    const context = { signal: new AbortController().signal, logger: silentLogger, progress() {}, log() {} };
    const call = (tool: ToolDefinition, args: Record<string, unknown>) => executor.execute(tool, args, context);
    try {
      const list = toolNamed(plan.tools, 'listPets');
      executor.validate(list);
      await call(list, {
        query: { limit: 5, filter_kind: 'cat', ids: [1, 2], tags: ['a', 'b'], color: { r: 255 } },
        headers: { 'X-Trace_Id': 'trace-1' },
      });
      await call(toolNamed(plan.tools, 'get_pet_by_id'), { path: { pet_id: 7 } });
    } finally {
      await executor.close();
    }
    const [first, second] = upstream.hits;
    assert.equal(first?.pathname, '/v1/pets');
    assert.equal(decodeURIComponent(first?.url.split('?')[1] ?? ''), 'limit=5&filter[kind]=cat&ids[]=1&ids[]=2&tags=a|b&color[r]=255');
    assert.equal(first?.headers['authorization'], 'Bearer t0k3n');
    assert.equal(first?.headers['x-trace.id'], 'trace-1');
    assert.equal(second?.pathname, '/v1/pets/7');
    assert.equal(second?.headers['authorization'], undefined);
  });
});
