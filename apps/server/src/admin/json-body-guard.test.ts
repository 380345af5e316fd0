import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import { assertJsonShape, MAX_ADMIN_JSON_DEPTH } from './json-body-guard.js';

const scan = (text: string, maxDepth?: number) => assertJsonShape(Buffer.from(text, 'utf8'), maxDepth);

function refused(text: string, code: string): GatewayError {
  try {
    scan(text);
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`${text.slice(0, 80)} was accepted`);
}

test('duplicate keys are found with their JSON Pointer, however the key is spelled', () => {
  assert.deepEqual(refused('{"a":1,"a":2}', 'DUPLICATE_KEY').data, { key: 'a', path: '/a' });
  assert.deepEqual(refused('{"a":1,"\\u0061":2}', 'DUPLICATE_KEY').data, { key: 'a', path: '/a' });
  assert.deepEqual(refused('{"x":{"l":[1,{"k":0,"k":1}]}}', 'DUPLICATE_KEY').data, { key: 'k', path: '/x/l/1/k' });
  assert.deepEqual(refused('{"a/b~":{},"a/b~":{}}', 'DUPLICATE_KEY').data, { key: 'a/b~', path: '/a~1b~0' });
  assert.deepEqual(refused('{"é":1, "é" :2}', 'DUPLICATE_KEY').data, { key: 'é', path: '/é' });
  assert.match(refused('{"q\\"x":1,"q\\"x":2}', 'DUPLICATE_KEY').message, /the key "q"x" appears twice/);
});

test('what only looks like a duplicate is accepted', () => {
  const fine = [
    '{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}',
    '{"a":"a","b":"a"}',
    '{"a":"\\"a\\":1,\\"a\\":2","b":"{[}]"}',
    '{"a\\\\":1,"a":2}',
    '["a","a",{"a":1}]',
    '{"A":1,"a":2}',
    '{"a":[],"b":{},"c":"\\\\"}',
    '"just a string"',
    '',
  ];
  for (const text of fine) assert.doesNotThrow(() => scan(text), text);
});

test(`nesting deeper than ${MAX_ADMIN_JSON_DEPTH} levels is refused; brackets in strings do not count`, () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
  assert.doesNotThrow(() => scan(nested(MAX_ADMIN_JSON_DEPTH)));
  const error = refused(nested(MAX_ADMIN_JSON_DEPTH + 1), 'PAYLOAD_TOO_DEEP');
  assert.match(error.message, /deeper than 64 levels/);
  refused(`${'['.repeat(5_000)}${']'.repeat(5_000)}`, 'PAYLOAD_TOO_DEEP');
  assert.doesNotThrow(() => scan(`{"a":"${'['.repeat(5_000)}"}`));
  assert.doesNotThrow(() => scan('[[[1]]]', 3));
  assert.throws(() => scan('[[[[1]]]]', 3), /deeper than 3 levels/);
});

test('malformed JSON is left for the parser to refuse', () => {
  for (const text of ['{"a":1', '{"a', '}}}', ']', '{"a":"\\x"}', '{"\\q":1,"\\q":2}']) {
    assert.doesNotThrow(() => scan(text), text);
  }
});

test('the scan is linear: a megabyte of keys or escapes takes milliseconds', () => {
  const keys = `{${Array.from({ length: 60_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
  const escapes = `{"s":"${'\\"'.repeat(500_000)}"}`;
  for (const text of [keys, escapes]) {
    const started = performance.now();
    scan(text);
    assert.ok(performance.now() - started < 500, `${text.length} bytes took ${Math.round(performance.now() - started)} ms`);
  }
});
