// Small hand-written OpenAPI documents and checks shared by the import tests. Not part of the public surface.
import assert from 'node:assert/strict';
import { compileToolDefinition, createSchemaCompiler } from '@dynmcp/common';
import { createHttpExecutor } from '@dynmcp/core';
import type { ToolDefinition } from '@dynmcp/plugin';

/** An OpenAPI 3.0 document exercising most mapping rules. */
export function petsOpenApi30(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Pets', version: '1.2.0' },
    servers: [{ url: 'https://{region}.pets.example.com/v1/', variables: { region: { default: 'eu', enum: ['eu', 'us'] } } }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        session: { type: 'apiKey', in: 'cookie', name: 'sid' },
        queryKey: { type: 'apiKey', in: 'query', name: 'api_key' },
      },
      schemas: {
        Pet: {
          type: 'object',
          required: ['id', 'name'],
          properties: {
            id: { type: 'integer', format: 'int64', readOnly: true },
            name: { type: 'string', nullable: true, pattern: '^(?=[a-z])[a-z]+$', description: 'Lower-case name' },
            kind: { type: 'string', enum: ['cat', 'dog'], default: 'cat', 'x-internal': true },
            weight: { type: 'number', minimum: 0, exclusiveMinimum: true, example: 3.5 },
            children: { type: 'array', items: { $ref: '#/components/schemas/Pet' } },
          },
        },
      },
    },
    paths: {
      '/pets': {
        get: {
          operationId: 'listPets',
          summary: 'List pets',
          description: 'Pages through all pets.',
          tags: ['pets'],
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, description: 'Page size' },
            { name: 'filter[kind]', in: 'query', schema: { type: 'string', enum: ['cat', 'dog'] } },
            { name: 'ids[]', in: 'query', schema: { type: 'array', items: { type: 'integer' } } },
            { name: 'tags', in: 'query', style: 'pipeDelimited', explode: false, schema: { type: 'array', items: { type: 'string' } } },
            { name: 'color', in: 'query', style: 'deepObject', schema: { type: 'object', properties: { r: { type: 'integer' } } } },
            { name: 'X-Trace.Id', in: 'header', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'A page', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Pet' } } } } } } },
          },
        },
        post: {
          operationId: 'createPet',
          tags: ['pets', 'write'],
          security: [{ key: [], session: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } },
          responses: { '201': { description: 'Created', content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } } },
        },
      },
      '/pets/{pet.id}': {
        parameters: [{ name: 'pet.id', in: 'path', required: true, schema: { type: 'integer' } }],
        get: { operationId: 'get pet/by id!', security: [], responses: { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'array', items: {} } } } } } },
        put: { operationId: 'replacePet', requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } }, responses: { '200': { description: 'ok' } } },
        delete: { security: [{ queryKey: [] }], responses: { '204': { description: 'gone' } } },
      },
      '/pets/{id}/photo': {
        post: {
          operationId: 'uploadPhoto',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } } } },
          responses: { '204': { description: 'stored' } },
        },
      },
    },
  };
}

/** The same API as an OpenAPI 3.1 YAML text (a smaller subset). */
export const PETS_OPENAPI_31_YAML = `
openapi: 3.1.0
info:
  title: Pets YAML
  version: "2"
servers:
  - url: http://127.0.0.1:1/api
paths:
  /pets/{id}:
    get:
      operationId: getPet
      summary: Get a pet
      parameters:
        - name: id
          in: path
          required: true
          schema: { type: integer }
        - name: fields
          in: query
          schema: { type: [string, "null"], examples: ["name"] }
      responses:
        "200":
          description: The pet
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Pet"
components:
  schemas:
    Pet:
      type: object
      properties:
        id: { type: integer }
        name: { type: string }
`;

/** A Swagger 2.0 document. */
export function petsSwagger2(): Record<string, unknown> {
  return {
    swagger: '2.0',
    info: { title: 'Pets v2', version: '0.9' },
    host: 'legacy.pets.example.com',
    basePath: '/api/v2',
    schemes: ['http', 'https'],
    securityDefinitions: { basic: { type: 'basic' }, key: { type: 'apiKey', in: 'header', name: 'X-Key' } },
    security: [{ key: [] }],
    definitions: { Pet: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 50 } } } },
    paths: {
      '/pets': {
        get: {
          operationId: 'listPets',
          produces: ['application/json'],
          parameters: [{ name: 'tags', in: 'query', type: 'array', items: { type: 'string' }, collectionFormat: 'pipes' }],
          responses: { '200': { description: 'ok', schema: { type: 'object', properties: { pets: { type: 'array', items: { $ref: '#/definitions/Pet' } } } } } },
        },
        post: {
          operationId: 'addPet',
          consumes: ['application/json'],
          security: [{ basic: [] }],
          parameters: [{ name: 'pet', in: 'body', required: true, schema: { $ref: '#/definitions/Pet' } }],
          responses: { '201': { description: 'created' } },
        },
      },
      '/pets/{id}/photo': {
        post: {
          operationId: 'uploadPhoto',
          consumes: ['multipart/form-data'],
          parameters: [
            { name: 'id', in: 'path', required: true, type: 'integer' },
            { name: 'file', in: 'formData', required: true, type: 'file' },
          ],
          responses: { '204': { description: 'stored' } },
        },
      },
    },
  };
}

/** Asserts every tool passes `compileToolDefinition` and the http executor's `validate`. */
export async function assertToolsValid(tools: readonly ToolDefinition[]): Promise<void> {
  const compiler = createSchemaCompiler();
  const executor = createHttpExecutor({
    defaultTimeoutMs: 1000,
    maxResponseBytes: 1 << 20,
    env: {},
    toolEnvAllow: ['*'],
    egress: { allow: ['127.0.0.1'] },
  });
  try {
    for (const tool of tools) {
      compileToolDefinition(structuredClone(tool), compiler, tool.id).release();
      executor.validate(structuredClone(tool));
    }
  } finally {
    await executor.close();
  }
  assert.ok(tools.length > 0);
}

/** The tool named `name`, or a failed assertion. */
export function toolNamed(tools: readonly ToolDefinition[], name: string): ToolDefinition {
  const tool = tools.find((candidate) => candidate.name === name);
  assert.ok(tool, `no tool named ${name}; have ${tools.map((candidate) => candidate.name).join(', ')}`);
  return tool;
}
