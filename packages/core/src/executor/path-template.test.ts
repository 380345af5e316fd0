import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePathTemplate, expandPathTemplate, hasHiddenDotSegment } from './path-template.js';

describe('compilePathTemplate', () => {
  it('finds {name} and :name placeholders and the static prefix', () => {
    const template = compilePathTemplate('/v1/{org}/files/:file.json');
    assert.deepEqual(template.names, ['org', 'file']);
    assert.equal(template.staticPrefix, '/v1/');
    assert.deepEqual(template.parts, ['/v1/', { name: 'org' }, '/files/', { name: 'file' }, '.json']);
  });

  it('treats a colon inside a segment as literal', () => {
    const template = compilePathTemplate('/v1/{model}:generate/a:b');
    assert.deepEqual(template.names, ['model']);
    assert.deepEqual(template.parts, ['/v1/', { name: 'model' }, ':generate/a:b']);
  });

  it('allows OpenAPI names with dashes and dots in braces, and a placeholder used twice', () => {
    const template = compilePathTemplate('/v1/{email-id}/{a.b}/{email-id}');
    assert.deepEqual(template.names, ['email-id', 'a.b']);
  });

  it('uses the whole path as prefix when there is no placeholder', () => {
    assert.equal(compilePathTemplate('/v1/example').staticPrefix, '/v1/example');
  });

  it('refuses a template starting with // (it would parse as a host)', () => {
    assert.throws(() => compilePathTemplate('//evil.example/{x}'), /normalised/);
  });
});

describe('expandPathTemplate', () => {
  const template = compilePathTemplate('/v1/users/{id}/:tab');
  const expand = (values: Record<string, unknown>) => expandPathTemplate(template, (name) => values[name]);

  it('encodes strings, numbers and booleans as one segment each', () => {
    assert.deepEqual(expand({ id: 'a/b?c#d%e f', tab: 1.5 }), { ok: true, path: '/v1/users/a%2Fb%3Fc%23d%25e%20f/1.5' });
    assert.deepEqual(expand({ id: true, tab: 0 }), { ok: true, path: '/v1/users/true/0' });
  });

  it('refuses missing, empty, dot and non-scalar values', () => {
    for (const id of [undefined, null, '', '.', '..', {}, [1], Number.NaN, Number.POSITIVE_INFINITY, '\uD800']) {
      const expansion = expand({ id, tab: 'x' });
      assert.equal(expansion.ok, false, `value ${String(id)}`);
    }
    assert.deepEqual(expand({ tab: 'x' }), { ok: false, message: 'missing path parameter "id"' });
  });

  it('refuses a value with a "." or ".." piece between slashes, which servers that decode %2F would climb with', () => {
    for (const id of ['../../admin/keys', '..\\admin', 'a/./b', 'a/..', '%2e%2e/admin', '%2E./x', 'x%2f..', '..%5Cadmin']) {
      assert.deepEqual(
        expand({ id, tab: 'x' }),
        { ok: false, message: 'path parameter "id" must not be "." or "..", nor hold such a piece between slashes (as in "../x")' },
        id,
      );
    }
    // Dots inside a piece, and slashes without dot pieces, are ordinary values.
    for (const [id, path] of [['a/b/c.txt', '/v1/users/a%2Fb%2Fc.txt/x'], ['...', '/v1/users/.../x'], ['..a/b..', '/v1/users/..a%2Fb../x'], ['v1.2', '/v1/users/v1.2/x']]) {
      assert.deepEqual(expand({ id, tab: 'x' }), { ok: true, path }, id);
    }
  });
});

describe('hasHiddenDotSegment', () => {
  it('sees dot segments behind encoded slashes and backslashes, in any case', () => {
    for (const path of ['/a/..%2Fb', '/a/%2e%2e%2fb', '/a/%2E%2e/b', '/a/b%5C..%5Cc', '/a/.', '/a\\..\\b']) assert.equal(hasHiddenDotSegment(path), true, path);
    for (const path of ['/a/b', '/a/...', '/a/b..c', '/a/%2e%2e%2e', '/a/%2fb', '/']) assert.equal(hasHiddenDotSegment(path), false, path);
  });
});
