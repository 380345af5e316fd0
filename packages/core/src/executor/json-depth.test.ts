import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-depth.js';

const nested = (depth: number) => Buffer.from(`${'['.repeat(depth)}1${']'.repeat(depth)}`);

describe('JSON depth check', () => {
  it('allows exactly the limit and refuses one level more', () => {
    assert.equal(exceedsJsonDepth(nested(MAX_JSON_DEPTH)), false);
    assert.equal(exceedsJsonDepth(nested(MAX_JSON_DEPTH + 1)), true);
    assert.equal(exceedsJsonDepth(Buffer.from(`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`)), true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ a: '['.repeat(500), b: '"\\[[[', c: [[1]] });
    assert.equal(exceedsJsonDepth(Buffer.from(text), 3), false);
    assert.equal(exceedsJsonDepth(Buffer.from(JSON.stringify({ s: '"]]]]', d: [[[[1]]]] })), 4), true);
  });

  it('counts depth, not the number of brackets', () => {
    const wide = Buffer.from(JSON.stringify(Array.from({ length: 10_000 }, () => [[1]])));
    assert.equal(exceedsJsonDepth(wide, 3), false);
  });

  it('scans a million levels without recursion', () => {
    assert.equal(exceedsJsonDepth(nested(1_000_000)), true);
  });
});
