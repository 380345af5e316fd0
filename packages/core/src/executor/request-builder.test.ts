import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '@dynmcp/plugin';
import { compileHttpTool } from './http-tool-config.js';
import { buildHttpRequest } from './request-builder.js';
import type { RequestBuild } from './request-builder.js';
import { createTemplateValues } from './template-values.js';
import { httpTool } from '../test-support/tool-fixtures.js';

/** Header values from `env`, every name allowed (the allow-list has tests of its own). */
function values(env: Record<string, string> = {}) {
  return createTemplateValues({ env, envAllow: ['*'], secretsDir: '/nonexistent', protectedValues: [] });
}

function build(method: string, path: string, args: Record<string, unknown>, extra: { input_schema?: JsonObject; ext_info?: JsonObject } = {}): RequestBuild {
  const tool = compileHttpTool(httpTool({ domain: 'https://api.example.com', method, path, ...extra }));
  return buildHttpRequest(tool, args, values({ KEY: 'k' }));
}

function url(result: RequestBuild): string {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.request.url.href;
}

describe('buildHttpRequest', () => {
  it('detects grouped arguments per call when the schema declares no properties', () => {
    assert.equal(url(build('GET', '/v1/{id}', { path: { id: 1 }, query: { a: 'b' } })), 'https://api.example.com/v1/1?a=b');
    // `query` holding a string is not a group, so the call is flat.
    assert.equal(url(build('GET', '/v1/{id}', { id: 1, query: 'text' })), 'https://api.example.com/v1/1?query=text');
  });

  it('follows a grouped schema even for odd-looking arguments, and refuses unknown keys', () => {
    const input_schema = { type: 'object', properties: { path: {}, query: {} } };
    const result = build('GET', '/v1/x', { q: 1 }, { input_schema });
    assert.deepEqual(result, { ok: false, message: 'unexpected argument "q": arguments are grouped as path, query, body and headers' });
    assert.deepEqual(build('GET', '/v1/x', { query: 'a' }, { input_schema }), { ok: false, message: 'argument "query" must be an object' });
  });

  it('sends flat arguments of a POST as a JSON body, and no body when none remain', () => {
    const withBody = build('POST', '/v1/{id}', { id: 'x', n: 1, nested: { a: [1] } });
    assert.ok(withBody.ok);
    assert.equal(withBody.request.body, '{"n":1,"nested":{"a":[1]}}');
    assert.equal(withBody.request.headers['content-type'], 'application/json');
    const without = build('POST', '/v1/{id}', { id: 'x' });
    assert.ok(without.ok);
    assert.equal(without.request.body, undefined);
    assert.equal(without.request.headers['content-type'], undefined);
  });

  it('encodes a flat call\'s body arguments as ext_info.body says, and appends configured query parameters', () => {
    const form = build('POST', '/v1/{id}', { id: 'x', n: 1, tags: ['a', 'b'] }, { ext_info: { body: { content_type: 'application/x-www-form-urlencoded' }, query: { key: 'k=${env:KEY}' } } });
    assert.ok(form.ok);
    assert.equal(form.request.body, 'n=1&tags=a&tags=b');
    assert.equal(form.request.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(form.request.url.search, '?key=k%3Dk');
    assert.deepEqual(form.request.secretQuery, [{ name: 'key', value: 'k=k' }]);
    // Tools without configured query parameters carry nothing to redact.
    const plain = build('GET', '/v1/x', { a: 1 });
    assert.ok(plain.ok);
    assert.equal(plain.request.secretQuery, undefined);
  });

  it('sends a grouped null body as JSON null and refuses a body on HEAD', () => {
    const nullBody = build('PUT', '/v1/x', { body: null, path: {} });
    assert.ok(nullBody.ok);
    assert.equal(nullBody.request.body, 'null');
    assert.equal(build('HEAD', '/v1/x', { body: { a: 1 } }).ok, false);
  });

  it('repeats array keys, JSON-encodes objects and skips nulls in the query', () => {
    const href = url(build('GET', '/v1/x', { query: { a: [1, null, 'two', { b: true }], o: { k: [1] }, n: null, t: false } }));
    const query = new URL(href).searchParams;
    assert.deepEqual(query.getAll('a'), ['1', 'two', '{"b":true}']);
    assert.equal(query.get('o'), '{"k":[1]}');
    assert.equal(query.has('n'), false);
    assert.equal(query.get('t'), 'false');
  });

  it('keeps hostile path values in their segment under the static prefix', () => {
    for (const id of ['a/b', '?x=1', '#f', '@evil.example', '//evil.example', 'a\\b']) {
      const parsed = new URL(url(build('GET', '/v1/users/{id}', { id })));
      assert.equal(parsed.origin, 'https://api.example.com');
      assert.equal(parsed.search, '');
      assert.equal(parsed.hash, '');
      assert.equal(decodeURIComponent(parsed.pathname.slice('/v1/users/'.length)), id);
    }
    // A dot piece stays in its segment too, but servers that decode %2F would climb with it: refused.
    for (const id of ['%2e%2e', '\\..\\admin', '../x']) assert.equal(build('GET', '/v1/users/{id}', { id }).ok, false, id);
  });

  it('looks for required parameters in every group, and only at the top level when flat', () => {
    const required = { ext_info: {}, input_schema: { type: 'object', properties: { path: {}, query: {}, body: {}, headers: {} } } };
    const tool = compileHttpTool({
      ...httpTool({ domain: 'api.example.com', path: '/v1/x', method: 'POST', ...required }),
      tds_ext_info: { domain: 'api.example.com', method: 'POST', path: '/v1/x', required_params: { a: '', b: '', c: '', d: '' } },
    });
    const present = buildHttpRequest(tool, { path: { a: 1 }, query: { b: 1 }, body: { c: 1 }, headers: { d: 'x' } }, values());
    assert.equal(present.ok, true);
    const missing = buildHttpRequest(tool, { path: { a: 1 }, query: { b: null } }, values());
    assert.deepEqual(missing, { ok: false, message: 'missing required parameter(s): "b", "c", "d"' });
  });

  it('resolves configured headers and lets arguments add, but not replace, headers', () => {
    const ext_info = { headers: { 'X-Key': 'k=${env:KEY}' } };
    const ok = build('GET', '/v1/x', { headers: { 'X-Trace': 't', 'User-Agent': 'agent' } }, { ext_info });
    assert.ok(ok.ok);
    assert.deepEqual(ok.request.headers, { 'user-agent': 'agent', 'x-key': 'k=k', 'x-trace': 't' });
    for (const headers of [{ 'x-key': 'mine' }, { 'transfer-encoding': 'chunked' }, { 'x-n': 1 }, { 'x-v': 'a\nb' }, { 'bad name': 'x' }]) {
      assert.equal(build('GET', '/v1/x', { headers }, { ext_info }).ok, false, JSON.stringify(headers));
    }
  });

  it('refuses a resolved env value with control characters without echoing it', () => {
    const tool = compileHttpTool(httpTool({ domain: 'api.example.com', path: '/v1/x', ext_info: { headers: { 'X-Key': '${env:KEY}' } } }));
    const result = buildHttpRequest(tool, {}, values({ KEY: 'canary\r\nX-Injected: 1' }));
    assert.equal(result.ok, false);
    assert.doesNotMatch(JSON.stringify(result), /canary/);
    // Characters a header cannot carry that are not control characters: the message names both kinds.
    for (const KEY of ['canary\u{1F511}', 'canary\u2028']) {
      const wide = buildHttpRequest(tool, {}, values({ KEY }));
      assert.equal(wide.ok, false);
      assert.match(JSON.stringify(wide), /a value a header cannot carry \(control characters, or characters beyond Latin-1 such as emoji\)/);
      assert.doesNotMatch(JSON.stringify(wide), /canary/);
    }
  });
});
