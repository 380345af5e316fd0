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

test("lines are winston's own, byte for byte: bindings of children, metadata, an Error's message and stack", async () => {
  const { default: winston } = await import('winston');
  const stream = new PassThrough();
  let reference = '';
  stream.on('data', (chunk: Buffer) => (reference += chunk.toString()));
  // What the gateway's logger was before it wrote lines itself: winston, the same format (its
  // redaction changes nothing here: no secret keys), a Stream transport.
  const root = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  const { logger, lines } = capture('debug');
  const error = new Error('boom');
  const write = (to: { child(b: Record<string, unknown>): { info(m: string, meta?: Record<string, unknown>): unknown; child(b: Record<string, unknown>): { warn(m: string, meta?: Record<string, unknown>): unknown } } }) => {
    const child = to.child({ component: 'mcp', shared: 'parent' });
    child.info('tool call', { requestId: 'r-1', latencyMs: 1.5, nested: { b: 2, a: [1, { z: true }] }, shared: 'meta' });
    child.child({ shared: 'child', extra: 1 }).warn('second', { message: 'more', stack: error.stack });
    child.info('plain');
  };
  write(root as never);
  write(logger as never);
  await new Promise((resolve) => setImmediate(resolve));
  const normalise = (line: string) => line.replace(/"timestamp":"[^"]+"/, '"timestamp":"T"');
  const ours = lines.map((line) => JSON.stringify(line));
  assert.equal(ours.length, 3);
  // Key order too: JSON.parse keeps it, and winston's json format sorts keys.
  assert.deepEqual(ours.map(normalise), reference.split('\n').filter(Boolean).map(normalise));
});
