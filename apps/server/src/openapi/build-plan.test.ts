import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUERY_STYLES as EXECUTOR_QUERY_STYLES } from '@dynmcp/core';
import type { JsonObject } from '@dynmcp/plugin';
import { buildPlan } from './build-plan.js';
import { QUERY_STYLES } from './map-parameters.js';
import type { PlanRequest } from './build-plan.js';
import { assertToolsValid, petsOpenApi30, toolNamed } from '../test-support/openapi-documents.js';

function plan(overrides: Partial<PlanRequest> = {}) {
  return buildPlan({
    document: petsOpenApi30(),
    instanceId: 'pets',
    toolIdPrefix: 'pets.',
    maxBytes: 1 << 20,
    auth: { bearer: 'Bearer ${env:PETS_TOKEN}', key: '${secret:pets_key}', session: '${env:PETS_SESSION}', queryKey: '${env:Q}' },
    ...overrides,
  });
}

const extInfo = (tool: { tds_ext_info: unknown }) => (tool.tds_ext_info as { ext_info: Record<string, unknown> }).ext_info;
const at = (value: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);

describe('buildPlan (OpenAPI 3.0)', () => {
  it('maps one tool per operation with ids, names, descriptions, annotations and provenance', async () => {
    const result = await plan();
    assert.deepEqual(result.tools.map((tool) => tool.name), ['listPets', 'createPet', 'get_pet_by_id', 'replacePet', 'delete_pets_pet.id', 'uploadPhoto']);
    assert.deepEqual(result.skipped, []);
    const list = toolNamed(result.tools, 'listPets');
    assert.equal(list.id, 'pets.listPets');
    assert.equal(list.description, 'List pets\n\nPages through all pets.');
    assert.equal(list.title, 'List pets');
    assert.deepEqual(list.annotations, { readOnlyHint: true });
    assert.deepEqual(toolNamed(result.tools, 'delete_pets_pet.id').annotations, { destructiveHint: true });
    assert.deepEqual(toolNamed(result.tools, 'replacePet').annotations, { idempotentHint: true });
    assert.equal(toolNamed(result.tools, 'createPet').annotations, undefined);
    assert.deepEqual(extInfo(list)['openapi'], { title: 'Pets', version: '1.2.0', operation: 'GET /pets', operation_id: 'listPets' });
    assert.deepEqual(extInfo(toolNamed(result.tools, 'delete_pets_pet.id'))['openapi'], { title: 'Pets', version: '1.2.0', operation: 'DELETE /pets/{pet.id}' });
    await assertToolsValid(result.tools);
  });

  it('applies server variable defaults and joins the server path to the operation path', async () => {
    const list = toolNamed((await plan()).tools, 'listPets');
    assert.deepEqual({ ...list.tds_ext_info, ext_info: undefined }, { domain: 'https://eu.pets.example.com', method: 'GET', path: '/v1/pets', ext_info: undefined });
    const overridden = toolNamed((await plan({ baseUrl: 'http://127.0.0.1:8080/base/' })).tools, 'listPets');
    assert.equal(overridden.tds_ext_info.domain, 'http://127.0.0.1:8080');
    assert.equal(overridden.tds_ext_info.path, '/base/pets');
  });

  it('skips every operation with a reason when the server URL is relative and no base URL is given', async () => {
    const document = petsOpenApi30();
    document['servers'] = [{ url: '/v1' }];
    const result = await plan({ document });
    assert.equal(result.tools.length, 0);
    assert.match(result.skipped[0]?.reason ?? '', /server URL "\/v1" is not absolute .*give base_url/);
  });

  it('groups parameters with their schemas, and gives unsafe names safe arguments mapped to the wire names', async () => {
    const result = await plan();
    const list = toolNamed(result.tools, 'listPets');
    const query = at(list.input_schema, 'properties', 'query', 'properties') as Record<string, JsonObject>;
    assert.deepEqual(Object.keys(query), ['limit', 'filter_kind', 'ids', 'tags', 'color']);
    assert.deepEqual(query['limit'], { type: 'integer', minimum: 1, maximum: 100, default: 20, description: 'Page size' });
    assert.deepEqual(query['filter_kind'], { type: 'string', enum: ['cat', 'dog'] });
    assert.deepEqual(extInfo(list)['parameters'], {
      query: {
        filter_kind: { name: 'filter[kind]', style: 'form', explode: true },
        ids: { name: 'ids[]', style: 'form', explode: true },
        tags: { name: 'tags', style: 'pipeDelimited', explode: false },
        color: { name: 'color', style: 'deepObject', explode: false },
      },
      headers: { 'X-Trace_Id': { name: 'X-Trace.Id' } },
    });
    assert.deepEqual(Object.keys(at(list.input_schema, 'properties', 'headers', 'properties') as object), ['X-Trace_Id']);
    assert.ok(result.warnings.includes('GET /pets: query parameter "filter[kind]" is argument "filter_kind" (the upstream still receives "filter[kind]")'));
    const byId = toolNamed(result.tools, 'get_pet_by_id');
    assert.equal(byId.tds_ext_info.path, '/v1/pets/{pet_id}');
    assert.deepEqual(at(byId.input_schema, 'properties', 'path'), { type: 'object', properties: { pet_id: { type: 'integer' } }, required: ['pet_id'] });
    assert.deepEqual(at(byId.input_schema, 'required'), ['path']);
  });

  it('maps a JSON request body, converting OpenAPI 3.0 keywords and dropping readOnly properties', async () => {
    const result = await plan();
    const create = toolNamed(result.tools, 'createPet');
    assert.deepEqual(at(create.input_schema, 'required'), ['body']);
    const body = at(create.input_schema, 'properties', 'body') as JsonObject;
    assert.deepEqual(body['required'], ['name']);
    assert.deepEqual(Object.keys(body['properties'] as object), ['name', 'kind', 'weight', 'children']);
    assert.deepEqual(at(body, 'properties', 'name'), { type: ['string', 'null'], description: 'Lower-case name' });
    assert.deepEqual(at(body, 'properties', 'kind'), { type: 'string', enum: ['cat', 'dog'], default: 'cat' });
    assert.deepEqual(at(body, 'properties', 'weight'), { type: 'number', exclusiveMinimum: 0, examples: [3.5] });
    // An optional body is not required.
    assert.deepEqual(at(toolNamed(result.tools, 'replacePet').input_schema, 'required'), ['path']);
  });

  it('drops a pattern the linear-time engine refuses, with a warning naming its place', async () => {
    const result = await plan();
    assert.ok(result.warnings.includes('POST /pets: request body schema/properties/name/pattern: "^(?=[a-z])[a-z]+$" cannot run on the linear-time engine; dropped'));
  });

  it('cuts a recursive schema at a safe depth with a warning', async () => {
    const result = await plan();
    const create = toolNamed(result.tools, 'createPet');
    let node = at(create.input_schema, 'properties', 'body') as JsonObject;
    let levels = 0;
    while (at(node, 'properties', 'children', 'items') !== undefined) {
      node = at(node, 'properties', 'children', 'items') as JsonObject;
      levels++;
    }
    assert.deepEqual(node, { description: 'Not described here: recursive schema cut at depth 8.' });
    assert.ok(levels >= 3, `unrolled ${levels} levels`);
    assert.ok(result.warnings.some((warning) => /^POST \/pets: request body schema\/properties\/children\/items.*: recursive schema cut at depth 8; replaced by \{\}/.test(warning)));
  });

  it('takes the output schema from a 2xx JSON object answer, and none from an array answer', async () => {
    const result = await plan();
    const list = toolNamed(result.tools, 'listPets');
    assert.equal(at(list.output_schema, 'type'), 'object');
    // Output keeps readOnly properties: the upstream sends them.
    assert.deepEqual(at(list.output_schema, 'properties', 'items', 'items', 'properties', 'id'), { type: 'integer', format: 'int64', readOnly: true });
    assert.equal(toolNamed(result.tools, 'get_pet_by_id').output_schema, undefined);
    assert.equal(toolNamed(result.tools, 'delete_pets_pet.id').output_schema, undefined);
  });

  it('maps credentials by reference for the schemes each operation requires, and invents none', async () => {
    const result = await plan();
    assert.deepEqual(extInfo(toolNamed(result.tools, 'listPets'))['headers'], { Authorization: 'Bearer ${env:PETS_TOKEN}' });
    assert.deepEqual(extInfo(toolNamed(result.tools, 'createPet'))['headers'], { 'X-Api-Key': '${secret:pets_key}', Cookie: 'sid=${env:PETS_SESSION}' });
    // `security: []` turns the document's default off.
    assert.equal(extInfo(toolNamed(result.tools, 'get_pet_by_id'))['headers'], undefined);
    // A query key is a configured query parameter, which the executor keeps out of results and logs.
    const remove = toolNamed(result.tools, 'delete_pets_pet.id');
    assert.equal(extInfo(remove)['headers'], undefined);
    assert.deepEqual(extInfo(remove)['query'], { api_key: '${env:Q}' });
    assert.ok(!result.warnings.some((warning) => warning.includes('queryKey')), result.warnings.join('\n'));

    const without = await plan({ auth: {} });
    assert.equal(extInfo(toolNamed(without.tools, 'listPets'))['headers'], undefined);
    assert.ok(without.warnings.includes('GET /pets: requires security bearer, which auth does not map; the tool sends no credentials'));
  });

  it('maps a multipart body: binary properties take file values, ext_info.body names the encoding', async () => {
    const result = await plan();
    const upload = toolNamed(result.tools, 'uploadPhoto');
    assert.deepEqual(extInfo(upload)['body'], { content_type: 'multipart/form-data' });
    assert.deepEqual(at(upload.input_schema, 'required'), ['path', 'body']);
    assert.deepEqual(at(upload.input_schema, 'properties', 'body', 'properties', 'file', 'required'), ['content_base64']);
    assert.deepEqual(Object.keys(at(upload.input_schema, 'properties', 'body', 'properties', 'file', 'properties') as object), ['filename', 'content_base64', 'content_type']);
    // JSON is the executor's default, so JSON bodies name no encoding.
    assert.equal(extInfo(toolNamed(result.tools, 'createPet'))['body'], undefined);
  });

  it('maps a form-urlencoded body, prefers JSON when both are offered, and drops a query parameter the key fills', async () => {
    const document = petsOpenApi30();
    const paths = document['paths'] as Record<string, Record<string, Record<string, unknown>>>;
    const schema = { type: 'object', required: ['grant_type'], properties: { grant_type: { type: 'string' }, scope: { type: 'array', items: { type: 'string' } } } };
    paths['/token'] = {
      post: {
        operationId: 'token',
        security: [{ queryKey: [] }],
        parameters: [{ name: 'api_key', in: 'query', required: true, schema: { type: 'string' } }, { name: 'trace', in: 'query', schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded; charset=utf-8': { schema } } },
        responses: { '200': { description: 'ok' } },
      },
      put: { operationId: 'both', requestBody: { content: { 'multipart/form-data': { schema }, 'application/json': { schema } } }, responses: { '200': { description: 'ok' } } },
      patch: { operationId: 'scalar', requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'string' } } } }, responses: { '200': { description: 'ok' } } },
    };
    const result = await plan({ document });
    const token = toolNamed(result.tools, 'token');
    assert.deepEqual(extInfo(token)['body'], { content_type: 'application/x-www-form-urlencoded' });
    assert.deepEqual(extInfo(token)['query'], { api_key: '${env:Q}' });
    assert.deepEqual(at(token.input_schema, 'properties', 'body'), schema);
    assert.deepEqual(Object.keys(at(token.input_schema, 'properties', 'query', 'properties') as object), ['trace']);
    assert.equal(extInfo(toolNamed(result.tools, 'both'))['body'], undefined);
    assert.deepEqual(result.skipped, [{ operation: 'PATCH /token', reason: 'request body multipart/form-data has a schema of type "string"; form bodies are sent from an object' }]);
    await assertToolsValid(result.tools);
  });

  it('warns about every changed name and hashes shortened or duplicate names stably', async () => {
    const document = petsOpenApi30();
    const paths = document['paths'] as Record<string, Record<string, Record<string, unknown>>>;
    (paths['/pets'] as Record<string, Record<string, unknown>>)['post']!['operationId'] = 'listPets';
    (paths['/pets/{pet.id}'] as Record<string, Record<string, unknown>>)['put']!['operationId'] = 'x'.repeat(100);
    const first = await plan({ document: structuredClone(document) });
    const second = await plan({ document: structuredClone(document) });
    const names = first.tools.map((tool) => tool.name);
    assert.deepEqual(names, second.tools.map((tool) => tool.name));
    assert.equal(names[0], 'listPets');
    assert.match(names[1] ?? '', /^listPets_[0-9a-f]{8}$/);
    assert.match(names[3] ?? '', /^x{55}_[0-9a-f]{8}$/);
    assert.equal(names[3]?.length, 64);
    assert.ok(first.warnings.includes('GET /pets/{pet.id}: operationId "get pet/by id!" became tool name "get_pet_by_id" (allowed: letters, digits, _ . -, at most 64, unique)'));
    assert.ok(first.warnings.some((warning) => warning.startsWith('POST /pets: operationId "listPets" became tool name "listPets_')));
    assert.ok(first.tools.every((tool) => tool.id === `pets.${tool.name}`));
  });

  it('selects operations by include and exclude filters and says why others were left out', async () => {
    const byTag = await plan({ include: { tags: ['pets'] }, exclude: { tags: ['write'] } });
    assert.deepEqual(byTag.tools.map((tool) => tool.name), ['listPets']);
    assert.deepEqual(byTag.skipped.slice(0, 2), [
      { operation: 'POST /pets', reason: 'excluded by exclude.tags' },
      { operation: 'GET /pets/{pet.id}', reason: 'not selected by include.tags' },
    ]);
    const byPath = await plan({ include: { paths: ['/pets/*'] }, exclude: { operation_ids: ['replacePet'] } });
    assert.deepEqual(byPath.tools.map((tool) => tool.name), ['get_pet_by_id', 'delete_pets_pet.id']);
  });
});

it('maps exactly the query styles the http executor sends', () => {
  // The mapper keeps its own copy so the import worker need not load @dynmcp/core.
  assert.deepEqual(QUERY_STYLES, EXECUTOR_QUERY_STYLES);
});
