import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '@dynmcp/plugin';
import { compileHttpTool } from './http-tool-config.js';
import { buildHttpRequest } from './request-builder.js';
import type { RequestBuild } from './request-builder.js';
import { createTemplateValues } from './template-values.js';
import { httpTool } from '../test-support/tool-fixtures.js';

const values = createTemplateValues({ env: {}, envAllow: [], secretsDir: '/nonexistent', protectedValues: [] });
const grouped = { type: 'object', properties: { query: { type: 'object' }, headers: { type: 'object' } } };

function build(args: Record<string, unknown>, parameters: JsonObject): RequestBuild {
  const tool = compileHttpTool(
    httpTool({ domain: 'https://api.example.com', method: 'GET', path: '/v1/items', input_schema: grouped, ext_info: { parameters } }),
  );
  return buildHttpRequest(tool, args, values);
}

function query(result: RequestBuild): string {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return decodeURIComponent(result.request.url.search.replace(/\+/g, ' '));
}

describe('ext_info.parameters', () => {
  it('sends a query argument under its wire name', () => {
    const result = build({ query: { filter_status: 'open', ids: [1, 2], other: 'x' } }, {
      query: { filter_status: { name: 'filter[status]' }, ids: { name: 'ids[]' } },
    });
    assert.equal(query(result), '?filter[status]=open&ids[]=1&ids[]=2&other=x');
  });

  it('serialises arrays and objects by style and explode', () => {
    const q = (style: string, explode: boolean, value: unknown) =>
      query(build({ query: { v: value } }, { query: { v: { name: 'color', style, explode } } }));
    assert.equal(q('form', true, ['a', 'b']), '?color=a&color=b');
    assert.equal(q('form', false, ['a', 'b']), '?color=a,b');
    assert.equal(q('spaceDelimited', false, ['a', 'b']), '?color=a b');
    assert.equal(q('pipeDelimited', false, ['a', 'b']), '?color=a|b');
    assert.equal(q('form', true, { R: 1, G: 2 }), '?R=1&G=2');
    assert.equal(q('form', false, { R: 1, G: 2 }), '?color=R,1,G,2');
    assert.equal(q('deepObject', true, { R: 1, G: null, B: 'x' }), '?color[R]=1&color[B]=x');
  });

  it('defaults explode to true for form and false for the other styles', () => {
    const q = (style: string) => query(build({ query: { v: ['a', 'b'] } }, { query: { v: { name: 'v', style } } }));
    assert.equal(q('form'), '?v=a&v=b');
    assert.equal(q('pipeDelimited'), '?v=a|b');
  });

  it('sends a header argument under its wire name, with the usual header checks', () => {
    const result = build({ headers: { x_trace_id: 't1' } }, { headers: { x_trace_id: { name: 'X-Trace.Id' } } });
    assert.ok(result.ok);
    assert.equal(result.request.headers['x-trace.id'], 't1');
    assert.equal(result.request.headers['x_trace_id'], undefined);
  });

  it('refuses malformed entries at write time', () => {
    const compile = (parameters: unknown) => () =>
      compileHttpTool(httpTool({ domain: 'https://api.example.com', method: 'GET', path: '/v1', ext_info: { parameters } as JsonObject }));
    assert.throws(compile('x'), /ext_info.parameters must be an object/);
    assert.throws(compile({ cookies: {} }), /unknown key\(s\) "cookies"/);
    assert.throws(compile({ query: { a: { name: 'a', style: 'matrix' } } }), /style must be one of form, spaceDelimited/);
    assert.throws(compile({ query: { a: { explode: 'yes' } } }), /explode must be true or false/);
    assert.throws(compile({ headers: { h: { name: 'Host' } } }), /naming a header that may be set/);
  });
});
