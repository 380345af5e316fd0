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

/**
 * What the gateway's logger was before it wrote lines itself: winston, the same format (its
 * redaction aside: the compared lines hold no secret keys), a Stream transport. `text()` is
 * everything it wrote.
 */
async function winstonReference() {
  const { default: winston } = await import('winston');
  const stream = new PassThrough();
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  const root = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { root, text: () => written };
}

test("lines are winston's own, byte for byte: bindings of children, metadata, an Error's message and stack", async () => {
  const { root, text: reference } = await winstonReference();
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
  assert.deepEqual(ours.map(normalise), reference().split('\n').filter(Boolean).map(normalise));
});

test("lines of primitive values (built without winston's format) are winston's own, byte for byte", async () => {
  const { root, text: reference } = await winstonReference();
  const ourStream = new PassThrough();
  let ours = '';
  ourStream.on('data', (chunk: Buffer) => (ours += chunk.toString()));
  const logger = createLogger({ level: 'debug', stream: ourStream });
  const entries: Array<Record<string, unknown>> = [
    { requestId: 'r-1', caller: 'api-key:ops', outcome: 'ok', upstreamStatus: 200, latencyMs: 1.5, absent: undefined, none: null },
    { quote: 'a "b" \\ c', control: 'line\nbreak\ttab\u0001', unicode: 'héllo ☃ 𝄞', lone: 'x\ud800y', long: 'z'.repeat(6000) },
    { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, negativeZero: -0, big: 12345678901234567890n, yes: true, no: false, tiny: 1e-7 },
    { '10': 'numeric key', '2': 'another', B: 'upper', a: 'lower', 'é': 'accent', '"odd"': 'quoted key' },
    { timestamp: 'given by the caller' },
    { timestamp: '' },
    { outcome: 'ok', requestId: 'r-2', caller: 'api-key:ops' },
    { shared: 'meta over the binding', gone: undefined },
    { shared: undefined },
    { level: 'meta level', message: 'meta message' },
    { nested: { a: 1 }, flat: 'x' },
    new (class Call {
      tool = 'get_item';
    })() as unknown as Record<string, unknown>,
    Object.assign(Object.create(null) as Record<string, unknown>, { bare: 'no prototype' }),
  ];
  type Target = { child(b: Record<string, unknown>): { info(m: string, meta?: Record<string, unknown>): unknown } };
  const write = (to: Target) => {
    const child = to.child({ component: 'mcp', shared: 'parent', unset: undefined });
    // Twice: the second round reuses what the first planned.
    for (let round = 0; round < 2; round++) for (const meta of entries) child.info('tool call', meta);
    child.info('no metadata');
    // Bindings a plan cannot hold: an object, and a key the format sets itself.
    to.child({ component: 'http', route: { path: '/mcp' } }).info('object binding', { n: 1 });
    to.child({ timestamp: 'bound' }).info('reserved binding', { n: 2 });
  };
  write(root as never);
  write(logger as never);
  await new Promise((resolve) => setImmediate(resolve));
  const normalise = (line: string) => line.replace(/"timestamp":"\d{4}-[^"]+"/, '"timestamp":"T"');
  // Compared as text: parsing would reorder integer-like keys and hide escaping differences.
  const ourLines = ours.split('\n').filter(Boolean);
  assert.equal(ourLines.length, 2 * entries.length + 3);
  assert.deepEqual(ourLines.map(normalise), reference().split('\n').filter(Boolean).map(normalise));
  assert.equal(JSON.parse(ourLines[4] ?? '').timestamp, 'given by the caller');
});

test('a secret key of a line of primitive values is redacted too', async () => {
  const { logger, lines } = capture('info');
  logger.child({ token: 'bound-secret' }).info('call', { authorization: 'Bearer s3cret', Cookie: 'c=1', fine: 'ok' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual({ ...lines[0], timestamp: undefined }, {
    authorization: '[redacted]',
    Cookie: '[redacted]',
    token: '[redacted]',
    fine: 'ok',
    level: 'info',
    message: 'call',
    timestamp: undefined,
  });
});

test('level functions work passed around (bound to their logger); a disabled level is one shared no-op', async () => {
  const { logger, lines } = capture('info');
  const child = logger.child({ component: 'x' });
  const { info, debug } = child;
  info('passed around', { n: 1 });
  debug('hidden');
  assert.equal(child.info, info);
  assert.equal(logger.child({ other: true }).debug, debug);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.component, 'x');
  assert.equal(lines[0]?.message, 'passed around');
});
