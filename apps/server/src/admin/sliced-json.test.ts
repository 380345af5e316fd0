import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import { assertJsonShape } from './json-body-guard.js';
import { NotJsonError, parseJsonInSlices } from './sliced-json.js';

// Bodies are made larger than one piece (64 KiB) by a filler member, so that they are rebuilt
// member by member rather than handed to one JSON.parse.
const FILLER = JSON.stringify(Array.from({ length: 3_000 }, (_, i) => ({ n: i, s: `filler ${i} [{"}]` })));
const large = (members: string) => `{"filler":${FILLER},${members}}`;

const parse = (text: string, maxDepth?: number) => parseJsonInSlices(Buffer.from(text, 'utf8'), maxDepth);

test('a large body parses to exactly what JSON.parse gives, odd members included', async () => {
  const members = [
    '"brackets":"{[}]\\"],{\\\\"',
    '"__proto__":{"polluted":true}',
    '"constructor":1',
    '"é🙂":"ünïcödé \\u00e9 \\ud83d\\ude42"',
    ' "spaced" \t:\r\n [ 1 , -0 , 1e3 , true , false , null , "" , [ ] , { } ] ',
    '"deep":{"a":[{"b":[[{"c":{}}]]}]}',
    '"1":"integer-like keys keep JSON.parse\'s order","0":0',
    `"big":${JSON.stringify(Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, { v: [i, `${i}`] }])))}`,
  ].join(',');
  for (const text of [large(members), `  [${FILLER},${FILLER}]  `, `[${FILLER}]`]) {
    const value = await parse(text);
    assert.deepStrictEqual(value, JSON.parse(text));
    assert.equal(JSON.stringify(value), JSON.stringify(JSON.parse(text)));
  }
  const odd = (await parse(large(members))) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(odd), Object.prototype);
  assert.ok(Object.hasOwn(odd, '__proto__'));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('whatever JSON.parse refuses, the sliced parse refuses too', async () => {
  const broken = [
    '"a" 1',
    '"a":',
    '"a":1,',
    '"a":[1 2]',
    '"a":[1,]',
    '"a":{"b"}',
    '"a":{,}',
    '"a":[}',
    '"a":{"b":1]',
    '"a":tru',
    '"a":"\\x"',
    '1:2',
    '[]:1',
    '"a":[] []',
  ];
  for (const members of broken) {
    const text = large(members);
    assert.throws(() => JSON.parse(text), SyntaxError, members);
    await assert.rejects(parse(text), NotJsonError, members);
  }
  for (const text of [`${large('"a":1')} {}`, `${large('"a":1')}}`, `x${large('"a":1')}`, large('"a":"unterminated').slice(0, -1)]) {
    assert.throws(() => JSON.parse(text), SyntaxError);
    await assert.rejects(parse(text), NotJsonError);
  }
});

test('depth and duplicate keys are refused as the one-pass guard refuses them', async () => {
  const cases: Array<[string, number | undefined]> = [
    [large('"x":{"l":[1,{"k":0,"k":1}]}'), undefined],
    [large('"filler":1'), undefined],
    [large(`"deep":${'['.repeat(70)}${']'.repeat(70)}`), undefined],
    [large('"d":[[[[1]]]]'), 4],
  ];
  for (const [text, maxDepth] of cases) {
    let guard: unknown;
    try {
      assertJsonShape(Buffer.from(text), maxDepth);
    } catch (error) {
      guard = error;
    }
    assert.ok(guard instanceof GatewayError);
    await assert.rejects(parse(text, maxDepth), (error: unknown) => {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.code, guard.code);
      assert.equal(error.message, guard.message);
      assert.deepEqual(error.data, guard.data);
      return true;
    });
  }
});

test('a body of megabytes is parsed across many turns of the event loop', async () => {
  const text = JSON.stringify({ operations: Array.from({ length: 40 }, () => JSON.parse(FILLER) as unknown) });
  assert.ok(text.length > 4_000_000);
  let turns = 0;
  let counting = true;
  const count = () => {
    turns += 1;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const value = await parse(text);
  counting = false;
  assert.deepStrictEqual(value, JSON.parse(text));
  // One JSON.parse and one guard pass would take no turn at all; slices of 5 ms take several.
  assert.ok(turns >= 5, `${turns} turns`);
});
