/**
 * The fast path answers plain 2026-07-28 tools/list and tools/call itself; everything it answers
 * must be exactly what the SDK answers. A progress token routes the same request through the SDK,
 * so the two answers can be compared byte for byte (apart from nothing).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectLegacy, TEST_AUTH } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream } from '../test-support/upstream.js';

let gw: TestGateway;
let upstream: TestUpstream;
let slowClosed = false;

before(async () => {
  upstream = await startUpstream((hit, res) => {
    if (hit.url.startsWith('/slow')) {
      res.on('close', () => (slowClosed = true));
      return; // never answers
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: hit.url, n: 42 }));
  });
  gw = await startTestGateway();
  const tool = (name: string, path: string, extra: Record<string, unknown> = {}, ext_info = {}) => ({
    name,
    description: `tool ${name}`,
    input_schema: { type: 'object', properties: { q: { type: 'string' } } },
    tds_ext_info: { domain: upstream.url, method: 'GET', path, ext_info },
    ...extra,
  });
  await gw.admin('PUT', '/admin/tds/a', tool('alpha', '/a', { output_schema: { type: 'object' } }));
  await gw.admin('PUT', '/admin/tds/b', tool('beta', '/b', { annotations: { readOnlyHint: true } }));
  assert.equal((await gw.admin('PUT', '/admin/tds/s', tool('slow', '/slow', {}, { timeout_ms: 10000 }))).status, 200);
  await gw.admin('PUT', '/admin/ids/fast', { name: 'fast', tool_ids: ['a', 'b', 's'] });
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

function post(method: string, params: Record<string, unknown>, viaSdk: boolean, signal?: AbortSignal) {
  const meta: Record<string, unknown> = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
  };
  if (viaSdk) meta.progressToken = 'p1';
  const headers: Record<string, string> = {
    ...TEST_AUTH,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
  };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  return fetch(`${gw.url}/mcp/fast`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: meta } }),
    signal,
  });
}

async function both(method: string, params: Record<string, unknown>) {
  const fast = await post(method, params, false);
  const sdk = await post(method, params, true);
  const read = async (res: Response) => ({ status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as any });
  return { fast: await read(fast), sdk: await read(sdk) };
}

test('tools/list: the fast answer equals the SDK answer', async () => {
  const { fast, sdk } = await both('tools/list', {});
  assert.deepEqual(fast, sdk);
  assert.deepEqual(fast.body.result.tools.map((t: { name: string }) => t.name), ['alpha', 'beta', 'slow']);
});

test('tools/call: success, structured content, invalid arguments and unknown tools equal the SDK answers', async () => {
  for (const params of [
    { name: 'alpha', arguments: { q: 'x' } },
    { name: 'beta', arguments: {} },
    { name: 'beta' },
    { name: 'alpha', arguments: { q: 1 } },
    { name: 'nope', arguments: {} },
  ]) {
    const { fast, sdk } = await both('tools/call', params);
    assert.deepEqual(fast, sdk, JSON.stringify(params));
  }
});

test('anything unusual goes to the SDK: a header mismatch is answered with its error', async () => {
  const res = await fetch(`${gw.url}/mcp/fast`, {
    method: 'POST',
    headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'beta', _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32020);
});

test('closing the response stream cancels the upstream call', async () => {
  const abort = new AbortController();
  const pending = post('tools/call', { name: 'slow', arguments: {} }, false, abort.signal).catch(() => undefined);
  const deadline = Date.now() + 3000;
  while (!upstream.hits.some((hit) => hit.url.startsWith('/slow')) && Date.now() < deadline) await sleep(10);
  abort.abort();
  await pending;
  while (!slowClosed && Date.now() < deadline) await sleep(10);
  assert.ok(slowClosed, 'the upstream saw its request closed');
});

/** One POST of a 2025-era session, raw. */
async function sessionPost(sessionId: string, method: string, params: Record<string, unknown> | undefined) {
  const res = await fetch(`${gw.url}/mcp/fast`, {
    method: 'POST',
    headers: {
      ...TEST_AUTH,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      'mcp-session-id': sessionId,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method, ...(params === undefined ? {} : { params }) }),
  });
  return { status: res.status, type: res.headers.get('content-type'), session: res.headers.get('mcp-session-id'), text: await res.text() };
}

test('2025 sessions: fast answers equal the SDK transport\'s (an empty _meta routes through the SDK)', async () => {
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/fast`);
  try {
    const sessionId = transport.sessionId!;
    const cases: Array<[string, Record<string, unknown> | undefined]> = [
      ['tools/list', undefined],
      ['tools/call', { name: 'alpha', arguments: { q: 'x' } }],
      ['tools/call', { name: 'beta' }],
      ['tools/call', { name: 'alpha', arguments: { q: 1 } }],
      ['tools/call', { name: 'nope', arguments: {} }],
    ];
    for (const [method, params] of cases) {
      const fast = await sessionPost(sessionId, method, params);
      const sdk = await sessionPost(sessionId, method, { ...(params ?? {}), _meta: {} });
      assert.deepEqual(fast, sdk, `${method} ${JSON.stringify(params)}`);
      assert.equal(fast.type, 'text/event-stream');
    }
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});

test('2025 sessions: notifications/cancelled aborts a fast-path call upstream', async () => {
  slowClosed = false;
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/fast`);
  try {
    const before = upstream.hits.filter((hit) => hit.url.startsWith('/slow')).length;
    const abort = new AbortController();
    const call = client.callTool({ name: 'slow', arguments: {} }, undefined, { signal: abort.signal }).catch((error: Error) => error);
    const deadline = Date.now() + 3000;
    while (upstream.hits.filter((hit) => hit.url.startsWith('/slow')).length === before && Date.now() < deadline) await sleep(10);
    abort.abort();
    assert.ok((await call) instanceof Error, 'the client gave up');
    while (!slowClosed && Date.now() < deadline) await sleep(10);
    assert.ok(slowClosed, 'the upstream saw its request closed');
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});
