import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createToolNamer, nameFromRoute, safeArgumentName, shortHash } from './tool-names.js';

describe('tool names', () => {
  it('derives a name from method and path when there is no operationId', () => {
    assert.equal(nameFromRoute('get', '/pets/{id}/photos'), 'get_pets_id_photos');
    assert.equal(nameFromRoute('post', '/'), 'post');
  });

  it('keeps fitting names, cleans others and hashes only what had to be shortened or de-duplicated', () => {
    const warnings: string[] = [];
    const name = createToolNamer((message) => warnings.push(message));
    assert.equal(name({ method: 'get', path: '/a', operationId: 'getA' }), 'getA');
    assert.equal(name({ method: 'get', path: '/b', operationId: 'get b' }), 'get_b');
    assert.equal(name({ method: 'put', path: '/a', operationId: 'GETA' }), `GETA_${shortHash('PUT /a')}`);
    const long = name({ method: 'get', path: '/long', operationId: 'y'.repeat(200) });
    assert.equal(long, `${'y'.repeat(55)}_${shortHash('GET /long')}`);
    assert.equal(name({ method: 'get', path: '/c' }), 'get_c');
    assert.equal(warnings.length, 3);
  });

  it('makes safe argument names for names clients refuse', () => {
    assert.equal(safeArgumentName('limit', new Set()), 'limit');
    assert.equal(safeArgumentName('filter[x]', new Set()), 'filter_x');
    assert.equal(safeArgumentName('a.b', new Set()), 'a_b');
    assert.equal(safeArgumentName('a_b', new Set(['a_b'])), `a_b_${shortHash('a_b')}`);
    assert.equal(safeArgumentName('a.b', new Set(['a_b'])), `a_b_${shortHash('a.b')}`);
    assert.equal(safeArgumentName('[]', new Set()), 'param');
    assert.match(safeArgumentName('x'.repeat(100), new Set()), /^x{64}$/);
  });
});
