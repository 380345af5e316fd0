import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './create-logger.js';

function capture(level: 'error' | 'warn' | 'info' | 'debug' | 'silent') {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
  });
  return { logger: createLogger({ level, stream }), lines };
}

test('JSON lines with bindings of children, levels below the threshold dropped', async () => {
  const { logger, lines } = capture('info');
  const child = logger.child({ component: 'x' }).child({ requestId: 'r1' });
  child.info('hello', { n: 1 });
  child.debug('hidden');
  logger.error('bad');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 2);
  assert.deepEqual({ ...lines[0], timestamp: undefined }, { level: 'info', message: 'hello', n: 1, component: 'x', requestId: 'r1', timestamp: undefined });
  assert.equal(lines[1]?.message, 'bad');
  assert.equal(typeof lines[0]?.timestamp, 'string');
});

test('secrets are redacted wherever they appear; silent writes nothing', async () => {
  const { logger, lines } = capture('debug');
  logger.info('call', { authorization: 'Bearer s3cret', nested: { 'x-api-key': 'k', password: 'p', fine: 'ok' } });
  await new Promise((resolve) => setImmediate(resolve));
  const text = JSON.stringify(lines);
  assert.ok(!text.includes('s3cret') && !text.includes('"k"') && !text.includes('"p"'));
  assert.match(text, /"fine":"ok"/);
  const quiet = capture('silent');
  quiet.logger.error('nothing');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(quiet.lines.length, 0);
});
