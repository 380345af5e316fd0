import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { checkRequest, MAX_BATCH_MESSAGES, nestsDeeperThan, SUPPORTED_VERSIONS } from './request-checks.js';

/** Only the headers are read. */
const request = (headers: Record<string, string> = {}) => ({ headers }) as unknown as IncomingMessage;
const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list' });
const nested = (depth: number) => {
  let value: unknown = 1;
  for (let i = 1; i < depth; i += 1) value = { a: value };
  return depth === 0 ? 1 : { v: value };
};

describe('checkRequest', () => {
  it('lets a plain request of any supported version, or none, through', () => {
    for (const version of [undefined, ...SUPPORTED_VERSIONS]) {
      const headers: Record<string, string> = version === undefined ? {} : { 'mcp-protocol-version': version };
      assert.equal(checkRequest(request(headers), list(1)), undefined, String(version));
    }
    assert.equal(checkRequest(request(), undefined), undefined);
  });

  it('answers an unsupported version naming every version, 2026-07-28 included', () => {
    const legacy = checkRequest(request({ 'mcp-protocol-version': '1999-01-01' }), list(7));
    assert.equal(legacy?.status, 400);
    assert.equal(legacy?.code, -32000);
    assert.equal(legacy?.id, 7);
    assert.match(legacy?.message ?? '', /Unsupported protocol version: 1999-01-01 \(supported versions: 2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26/);
    assert.deepEqual(legacy?.data, { supported: SUPPORTED_VERSIONS, requested: '1999-01-01' });

    const modernBody = { ...list(8), params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } };
    const modern = checkRequest(request({ 'mcp-protocol-version': '2099-01-01' }), modernBody);
    assert.equal(modern?.code, -32022, 'the 2026-07-28 code for a request with the _meta envelope');
    assert.deepEqual(modern?.data?.supported, ['2026-07-28'], 'the versions of the 2026-07-28 envelope, as server/discover lists them');
    assert.match(modern?.message ?? '', /supported versions: 2026-07-28, 2025-11-25/);

    const long = checkRequest(request({ 'mcp-protocol-version': 'x'.repeat(500) }), list(1));
    assert.ok((long?.message.length ?? 0) < 300, 'a long header is not echoed whole');
  });

  it('refuses batches from 2025-06-18 on, and caps them before', () => {
    const batch = [list(1), list(2)];
    for (const version of ['2025-06-18', '2025-11-25', '2026-07-28']) {
      const refusal = checkRequest(request({ 'mcp-protocol-version': version }), batch);
      assert.equal(refusal?.status, 400, version);
      assert.equal(refusal?.code, -32600, version);
      assert.match(refusal?.message ?? '', new RegExp(`not part of MCP ${version}`));
    }
    for (const headers of [{}, { 'mcp-protocol-version': '2025-03-26' }] as Array<Record<string, string>>) {
      assert.equal(checkRequest(request(headers), batch), undefined);
      const most = Array.from({ length: MAX_BATCH_MESSAGES }, (_, i) => list(i));
      assert.equal(checkRequest(request(headers), most), undefined);
      const over = checkRequest(request(headers), [...most, list(99)]);
      assert.equal(over?.code, -32600);
      assert.match(over?.message ?? '', /at most 10 messages \(this one holds 11\)/);
      assert.equal(checkRequest(request(headers), [])?.code, -32600);
    }
  });

  it('refuses a body nested deeper than 64 levels with -32602 and its id', () => {
    const at = (depth: number) => ({ jsonrpc: '2.0', id: 'call-1', method: 'tools/call', params: { name: 't', arguments: nested(depth - 2) } });
    assert.equal(checkRequest(request(), at(64)), undefined);
    const refusal = checkRequest(request(), at(65));
    assert.equal(refusal?.status, 400);
    assert.equal(refusal?.code, -32602);
    assert.equal(refusal?.id, 'call-1');
    assert.match(refusal?.message ?? '', /deeper than 64 levels/);
  });
});

describe('checkRequest: malformed params the SDK would answer as internal errors', () => {
  const message = (method: string, params: unknown, id: unknown = 4) => ({ jsonrpc: '2.0', id, method, params });
  const init = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } };

  it('initialize, tools/list and logging/setLevel with bad params are -32602 naming the field, with the id', () => {
    const cases: Array<[unknown, RegExp]> = [
      [message('initialize', { ...init, protocolVersion: 5 }), /"protocolVersion" must be a string/],
      [message('initialize', { ...init, capabilities: [] }), /"capabilities" must be an object/],
      [message('initialize', { ...init, clientInfo: { name: 'c' } }), /"clientInfo" must be an object with a string "name" and "version"/],
      [message('initialize', undefined), /"protocolVersion" must be a string/],
      [message('tools/list', { cursor: { a: 1 } }), /"cursor" must be a string/],
      [message('tools/list', { cursor: 7 }), /"cursor" must be a string/],
      [message('logging/setLevel', { level: 'verbose' }), /"level" must be one of debug, info, notice, warning, error, critical, alert, emergency/],
      [message('logging/setLevel', {}), /"level" must be one of/],
    ];
    for (const [body, pattern] of cases) {
      const refusal = checkRequest(request(), body);
      assert.equal(refusal?.status, 400, JSON.stringify(body));
      assert.equal(refusal?.code, -32602, JSON.stringify(body));
      assert.equal(refusal?.id, 4);
      assert.match(refusal?.message ?? '', pattern);
    }
    for (const body of [message('initialize', init), message('tools/list', { cursor: 'abc' }), message('tools/list', {}), message('logging/setLevel', { level: 'error' })]) {
      assert.equal(checkRequest(request(), body), undefined, JSON.stringify(body));
    }
    // 2026-07-28 has neither method: the SDK answers them as unknown methods, whatever their params.
    const modernMeta = { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } };
    for (const body of [message('initialize', modernMeta), message('logging/setLevel', { level: 'verbose', ...modernMeta })]) {
      assert.equal(checkRequest(request({ 'mcp-protocol-version': '2026-07-28' }), body), undefined, JSON.stringify(body));
      assert.equal(checkRequest(request(), body), undefined, `${JSON.stringify(body)} without the header`);
    }
    const modernList = checkRequest(request({ 'mcp-protocol-version': '2026-07-28' }), message('tools/list', { cursor: 1, ...modernMeta }));
    assert.equal(modernList?.code, -32602, 'a cursor is a string in every revision');
  });

  it('an id too large for a double is -32600 (its answer would carry id null)', () => {
    const refusal = checkRequest(request(), JSON.parse('{"jsonrpc":"2.0","id":1e400,"method":"tools/list"}'));
    assert.deepEqual([refusal?.status, refusal?.code, refusal?.id], [400, -32600, null]);
    assert.equal(checkRequest(request(), list(1e300)), undefined);
  });

  it('a 2025-03-26 batch with two requests of one id, or a malformed member, is refused whole', () => {
    const twice = checkRequest(request(), [list(8), list(9), list(8)]);
    assert.deepEqual([twice?.status, twice?.code], [400, -32600]);
    assert.match(twice?.message ?? '', /two requests in the batch have the id 8/);
    assert.equal(checkRequest(request(), [list(1), { jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', method: 'notifications/initialized' }]), undefined, 'notifications have no id');
    assert.equal(checkRequest(request(), [list(1), { ...list(2), id: '1' }]), undefined, 'the number 1 and the string "1" are two ids');
    const bad = checkRequest(request(), [list(1), message('tools/list', { cursor: 1 }, 2)]);
    assert.deepEqual([bad?.code, bad?.id], [-32602, null]);
  });
});

describe('nestsDeeperThan', () => {
  it('measures objects and arrays alike, scalars as depth 0', () => {
    assert.equal(nestsDeeperThan(1, 0), false);
    assert.equal(nestsDeeperThan({}, 1), false);
    assert.equal(nestsDeeperThan({}, 0), true);
    assert.equal(nestsDeeperThan([[[]]], 3), false);
    assert.equal(nestsDeeperThan([[[]]], 2), true);
    assert.equal(nestsDeeperThan({ a: [1, { b: 'x' }], c: null }, 3), false);
    assert.equal(nestsDeeperThan({ a: [1, { b: [] }], c: null }, 3), true);
  });

  it('checks 100 000 levels without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    assert.equal(nestsDeeperThan(deep, 64), true);
    const wide = Array.from({ length: 100_000 }, () => ({ a: [1] }));
    assert.equal(nestsDeeperThan(wide, 3), false);
  });
});
