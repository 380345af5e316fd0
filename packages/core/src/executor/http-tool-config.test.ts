import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import type { JsonObject, ToolDefinition } from '@dynmcp/plugin';
import { createHttpExecutor } from './http-executor.js';
import { argumentStyleOf, compileHttpTool, parseDomain } from './http-tool-config.js';

const executor = createHttpExecutor({
  defaultTimeoutMs: 1_000,
  maxResponseBytes: 1_000,
  env: {},
  toolEnvAllow: ['*'],
  egress: { allow: ['127.0.0.1'] },
});

/** A plain example tool, with `overrides` merged into `tds_ext_info`. */
function exampleTool(overrides: JsonObject = {}, rest: Partial<ToolDefinition> = {}): ToolDefinition {
  return {
    id: 'example',
    name: 'example_tool',
    input_schema: { type: 'object', properties: {} },
    tds_ext_info: { domain: 'api.example.com', method: 'GET', path: '/v1/example', required_params: {}, ext_info: {}, ...overrides },
    ...rest,
  } as ToolDefinition;
}

function assertRefused(tool: ToolDefinition, pattern: RegExp): void {
  assert.throws(
    () => executor.validate(tool),
    (error: unknown) => error instanceof GatewayError && error.code === 'INVALID_PAYLOAD' && pattern.test(error.message),
  );
}

describe('validate()', () => {
  it('accepts the example tool', () => {
    executor.validate(exampleTool());
    const compiled = compileHttpTool(exampleTool());
    assert.equal(compiled.origin, 'https://api.example.com');
    assert.equal(compiled.method, 'GET');
  });

  it('accepts ports, explicit schemes, lower-case methods and well-typed ext_info', () => {
    executor.validate(
      exampleTool({
        domain: 'http://127.0.0.1:8080',
        method: 'post',
        path: '/v1/{org}/items/:id',
        ext_info: { headers: { 'X-Api-Key': '${env:KEY}', Accept: 'application/json' }, timeout_ms: 600_000, max_response_bytes: 10, retries: 2 },
      }),
    );
    const form = compileHttpTool(exampleTool({ method: 'POST', ext_info: { body: { content_type: 'Multipart/Form-Data' }, query: { key: '${env:KEY}' } } }));
    assert.equal(form.bodyContentType, 'multipart/form-data');
    assert.deepEqual(form.queryCredentials.map((parameter) => parameter.name), ['key']);
    assert.equal(compileHttpTool(exampleTool()).bodyContentType, 'application/json');
  });

  const refusals: [string, JsonObject, RegExp][] = [
    ['an unknown method', { method: 'FETCH' }, /method must be one of/],
    ['TRACE', { method: 'TRACE' }, /method/],
    ['a non-http scheme', { domain: 'ftp://api.example.com' }, /only http and https/],
    ['file://', { domain: 'file:///etc/passwd' }, /only http and https|no host|path/],
    ['userinfo', { domain: 'https://user:pw@api.example.com' }, /credentials/],
    ['userinfo without scheme', { domain: 'a@b.example' }, /credentials/],
    ['a path in domain', { domain: 'api.example.com/v1' }, /must not contain a path/],
    ['a query in domain', { domain: 'api.example.com?x=1' }, /must not contain a path, query/],
    ['an empty domain', { domain: '' }, /domain must be a host/],
    ['a bad port', { domain: 'api.example.com:99999' }, /not a valid host/],
    ['a relative path', { path: 'v1/example' }, /must start with "\/"/],
    ['a query in path', { path: '/v1/example?x=1' }, /"\?" or "#"/],
    ['an unclosed brace', { path: '/v1/{id' }, /"\{" must enclose/],
    ['an empty brace', { path: '/v1/{}' }, /"\{" must enclose/],
    ['a bad brace name', { path: '/v1/{a b}' }, /"\{" must enclose/],
    ['a stray closing brace', { path: '/v1/id}' }, /"\}" without/],
    ['a colon without name', { path: '/v1/:-x' }, /":" after "\/"/],
    ['a dot segment', { path: '/v1/../admin' }, /normalised/],
    ['an encoded dot segment', { path: '/v1/%2e%2e/admin' }, /normalised/],
    ['a space', { path: '/v1/a b' }, /normalised/],
    ['headers not an object', { ext_info: { headers: ['x'] } }, /ext_info.headers must be an object/],
    ['a non-string header', { ext_info: { headers: { 'X-N': 1 } } }, /ext_info.headers.X-N must be a string/],
    ['a CR/LF header value', { ext_info: { headers: { 'X-N': 'a\r\nb: c' } } }, /CR, LF/],
    ['a forbidden header', { ext_info: { headers: { Host: 'x' } } }, /may be set/],
    ['a bad header name', { ext_info: { headers: { 'X N': 'x' } } }, /may be set/],
    ['a __proto__ header, which a plain object of headers would drop', { ext_info: { headers: JSON.parse('{"__proto__": "x"}') } }, /"__proto__" is not a header name that may be set/],
    ['a malformed env reference', { ext_info: { headers: { 'X-Key': '${KEY}' } } }, /\$\{env:NAME\}/],
    ['a zero timeout', { ext_info: { timeout_ms: 0 } }, /timeout_ms must be a positive integer/],
    ['a fractional timeout', { ext_info: { timeout_ms: 1.5 } }, /timeout_ms/],
    ['a too long timeout', { ext_info: { timeout_ms: 600_001 } }, /not above 600000/],
    ['a string cap', { ext_info: { max_response_bytes: '10' } }, /max_response_bytes must be a positive integer/],
    ['required_params not an object', { required_params: ['q'] }, /required_params must be an object/],
    ['ext_info not an object', { ext_info: 'x' }, /ext_info must be an object/],
    ['a result mapping that is not an object', { ext_info: { result: 'resource' } }, /ext_info.result must be an object/],
    ['an unknown result kind', { ext_info: { result: { as: 'video' } } }, /ext_info.result.as must be one of auto, text, image, audio, resource/],
    ['an unknown result key', { ext_info: { result: { as: 'resource', url: 'x://y' } } }, /unknown key\(s\) "url"/],
    ['a relative resource uri', { ext_info: { result: { as: 'resource', uri: 'readme.md' } } }, /must be an absolute URI/],
    ['a mime_type with parameters', { ext_info: { result: { mime_type: 'text/plain; charset=utf-8' } } }, /type\/subtype, no parameters/],
    ['an image mapping with a non-image type', { ext_info: { result: { as: 'image', mime_type: 'audio/wav' } } }, /image\/\* type/],
    [
      'an unknown body content type',
      { ext_info: { body: { content_type: 'text/csv' } } },
      /^ext_info.body.content_type must be one of application\/json, application\/x-www-form-urlencoded, multipart\/form-data$/,
    ],
    ['a body encoding that is not an object', { ext_info: { body: 'multipart/form-data' } }, /ext_info.body must be an object/],
    ['an unknown body key', { ext_info: { body: { content_type: 'multipart/form-data', boundary: 'x' } } }, /unknown key\(s\) "boundary"; known: content_type/],
  ];
  for (const [what, overrides, pattern] of refusals) {
    it(`refuses ${what}`, () => assertRefused(exampleTool(overrides), pattern));
  }

  it('compiles ext_info.result, defaulting to auto', () => {
    assert.deepEqual(compileHttpTool(exampleTool()).result, { as: 'auto' });
    assert.deepEqual(
      compileHttpTool(exampleTool({ ext_info: { result: { as: 'resource', uri: 'test://embedded-resource', mime_type: 'Text/Markdown' } } })).result,
      { as: 'resource', uri: 'test://embedded-resource', mimeType: 'text/markdown' },
    );
    assert.deepEqual(compileHttpTool(exampleTool({ ext_info: { result: { mime_type: 'image/png' } } })).result, { as: 'auto', mimeType: 'image/png' });
  });

  it('refuses a missing tds_ext_info', () => {
    assertRefused({ id: 'x', name: 'x', input_schema: {} } as unknown as ToolDefinition, /tds_ext_info must be an object/);
  });

  it('never echoes a header value or domain credentials in its message', () => {
    assert.throws(
      () => executor.validate(exampleTool({ ext_info: { headers: { Authorization: 'Bearer canary\r\n' } } })),
      (error: unknown) => error instanceof Error && !error.message.includes('canary'),
    );
    for (const domain of ['https://user:canary@api.example.com:99999', 'ftp://user:canary@api.example.com', 'https://u:canary@h.example/p']) {
      assert.throws(
        () => executor.validate(exampleTool({ domain })),
        (error: unknown) => error instanceof GatewayError && !error.message.includes('canary'),
      );
    }
  });

  it('refuses a path placeholder the input schema does not declare', () => {
    const flat = { type: 'object', properties: { other: { type: 'string' } } };
    assertRefused(exampleTool({ path: '/v1/{id}' }, { input_schema: flat }), /"id" must be declared in input_schema.properties/);
    const grouped = { type: 'object', properties: { path: { type: 'object', properties: { other: {} } } } };
    assertRefused(exampleTool({ path: '/v1/{id}' }, { input_schema: grouped }), /input_schema.properties.path.properties/);
    executor.validate(exampleTool({ path: '/v1/{id}' }, { input_schema: { type: 'object', properties: { id: {} } } }));
  });
});

describe('parseDomain', () => {
  it('defaults to https and keeps explicit ports', () => {
    assert.equal(parseDomain('api.example.com'), 'https://api.example.com');
    assert.equal(parseDomain('api.example.com:8443'), 'https://api.example.com:8443');
    assert.equal(parseDomain('http://127.0.0.1:3000/'), 'http://127.0.0.1:3000');
  });
});

describe('argumentStyleOf', () => {
  it('reads the style from the top-level properties', () => {
    assert.equal(argumentStyleOf({ properties: { path: {}, query: {} } }), 'grouped');
    assert.equal(argumentStyleOf({ properties: { path: {}, id: {} } }), 'flat');
    assert.equal(argumentStyleOf({ properties: {} }), 'auto');
    assert.equal(argumentStyleOf({ type: 'object' }), 'auto');
  });
});

describe('compileHttpTool', () => {
  it('compiles once per definition object', () => {
    const tool = exampleTool();
    assert.equal(compileHttpTool(tool), compileHttpTool(tool));
  });
});
