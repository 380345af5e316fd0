/** The console's check of definitions against the admin API's published schemas, before anything is sent. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkSchema } from './schema-check.js';
import { diffLines, withContext } from './diff.js';

const schema = (name: string) => JSON.parse(readFileSync(new URL(`../../../packages/common/schemas/${name}.schema.json`, import.meta.url), 'utf8'));
const tool = { name: 'search', input_schema: { type: 'object' }, tds_ext_info: { domain: 'https://api.example.com', method: 'GET', path: '/s' } };

test('a valid tool and instance pass the published schemas', () => {
  assert.deepEqual(checkSchema(schema('tool'), tool), []);
  assert.deepEqual(checkSchema(schema('instance'), { name: 'Shop', tool_ids: ['search', 'pets.*'], metadata: { proto_type: 'streamable-stateless' } }), []);
});

test('each problem names the JSON Pointer of the value it concerns', () => {
  const problems = checkSchema(schema('tool'), {
    ...tool,
    name: 'has space',
    extra: 1,
    tds_ext_info: { method: 'G', path: '/s', ext_info: { limits: { rate_per_minute: 0 } } },
  });
  assert.deepEqual(
    problems.map((problem) => problem.pointer).sort(),
    ['/extra', '/name', '/tds_ext_info/domain', '/tds_ext_info/ext_info/limits/rate_per_minute', '/tds_ext_info/method'],
  );
  const instance = checkSchema(schema('instance'), { name: '', tool_ids: ['a', 'a'], tool_mode: 'grid', metadata: 5 });
  assert.deepEqual(instance.map((problem) => problem.pointer).sort(), ['/metadata', '/name', '/tool_ids', '/tool_mode']);
});

test('history diffs: changed lines with context, the rest elided', () => {
  const before = ['{', '  "a": 1,', '  "b": 2,', '  "c": 3,', '  "d": 4,', '  "e": 5,', '  "f": 6', '}'].join('\n');
  const after = before.replace('"e": 5', '"e": 50');
  const lines = withContext(diffLines(before, after), 1);
  assert.deepEqual(lines, [
    undefined,
    { op: ' ', text: '  "d": 4,' },
    { op: '-', text: '  "e": 5,' },
    { op: '+', text: '  "e": 50,' },
    { op: ' ', text: '  "f": 6' },
    undefined,
  ]);
});
