/**
 * The fast paths end to end: through the whole gateway (the MCP front's authentication and
 * instance access, which resolve the instance's view and hand it to the MCP gateway), a plain
 * request answered by a fast path equals the SDK's answer to the same request routed through the
 * SDK by a progress token (2026-07-28) or an empty `_meta` (2025, with or without a session), and a
 * request the SDK refuses for its headers is refused alike on every route. The fast paths' own cases (every result shape, cancellation) are tested against the MCP gateway
 * directly, in packages/core/src/mcp/fast-path.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectLegacy, sessionHeaders, TEST_AUTH } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

let gw: TestGateway;
let upstream: TestUpstream;

before(async () => {
  upstream = await startUpstream((hit, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: hit.url, n: 42 }));
  });
  gw = await startTestGateway();
  const tool = (name: string, path: string, extra: Record<string, unknown> = {}) => ({
    name,
    description: `tool ${name}`,
    input_schema: { type: 'object', properties: { q: { type: 'string' } } },
    tds_ext_info: { domain: upstream.url, method: 'GET', path },
    ...extra,
  });
  assert.equal((await gw.admin('PUT', '/admin/tds/a', tool('alpha', '/a', { output_schema: { type: 'object' } }))).status, 200);
  assert.equal((await gw.admin('PUT', '/admin/tds/b', tool('beta', '/b'))).status, 200);
  assert.equal((await gw.admin('PUT', '/admin/ids/fast', { name: 'fast', tool_ids: ['a', 'b'] })).status, 200);
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

function post(method: string, params: Record<string, unknown>, viaSdk: boolean, extraHeaders: Record<string, string> = {}) {
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
  Object.assign(headers, extraHeaders);
  return fetch(`${gw.url}/mcp/fast`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: meta } }),
  });
}

const read = async (res: Response) => ({ status: res.status, type: res.headers.get('content-type'), text: await res.text() });

test('2026-07-28: through the whole gateway, fast answers equal the SDK answers', async () => {
  for (const [method, params] of [
    ['tools/list', {}],
    ['tools/call', { name: 'alpha', arguments: { q: 'x' } }],
    ['tools/call', { name: 'nope', arguments: {} }],
  ] as const) {
    const fast = await read(await post(method, params, false));
    const sdk = await read(await post(method, params, true));
    assert.equal(fast.status, 200);
    assert.deepEqual(fast, sdk, `${method} ${JSON.stringify(params)}`);
  }
});

test('2025 sessions: through the whole gateway, fast answers equal the SDK transport\'s', async () => {
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/fast`);
  try {
    const sessionPost = async (body: Record<string, unknown>) =>
      read(
        await fetch(`${gw.url}/mcp/fast`, {
          method: 'POST',
          headers: sessionHeaders(transport.sessionId!),
          body: JSON.stringify(body),
        }),
      );
    for (const [method, params] of [
      ['tools/list', undefined],
      ['tools/call', { name: 'beta', arguments: {} }],
    ] as const) {
      const fast = await sessionPost({ jsonrpc: '2.0', id: 9, method, ...(params === undefined ? {} : { params }) });
      const sdk = await sessionPost({ jsonrpc: '2.0', id: 9, method, params: { ...(params ?? {}), _meta: {} } });
      assert.equal(fast.type, 'text/event-stream');
      assert.deepEqual(fast, sdk, `${method} ${JSON.stringify(params)}`);
    }
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});

test('2025 session-less requests as curl sends them: through the whole gateway, fast answers equal the SDK stateless leg\'s', async () => {
  // curl's defaults: `Accept: */*`, which the front reads as accepting JSON and SSE, and no protocol version.
  const curlPost = async (body: Record<string, unknown>) =>
    read(
      await fetch(`${gw.url}/mcp/fast`, {
        method: 'POST',
        headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: '*/*' },
        body: JSON.stringify(body),
      }),
    );
  for (const [method, params] of [
    ['tools/list', undefined],
    ['tools/call', { name: 'alpha', arguments: { q: 'x' } }],
    ['tools/call', { name: 'nope', arguments: {} }],
  ] as const) {
    const fast = await curlPost({ jsonrpc: '2.0', id: 11, method, ...(params === undefined ? {} : { params }) });
    const sdk = await curlPost({ jsonrpc: '2.0', id: 11, method, params: { ...(params ?? {}), _meta: {} } });
    assert.equal(fast.status, 200);
    assert.equal(fast.type, 'text/event-stream');
    assert.deepEqual(fast, sdk, `${method} ${JSON.stringify(params)}`);
  }
});

test("Accept: a 2025-era request the SDK transport refuses (406) gets the same refusal on every route; the 2026-07-28 leg serves it", async () => {
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/fast`);
  const session = { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
  const unknownSession = { ...session, 'mcp-session-id': 'no-such-session' };
  try {
    for (const accept of ['application/json', 'text/event-stream', 'text/html']) {
      const send = async (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
        read(
          await fetch(`${gw.url}/mcp/fast`, {
            method: 'POST',
            headers: { ...TEST_AUTH, 'content-type': 'application/json', accept, ...headers },
            body: JSON.stringify(body),
          }),
        );
      const call = { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'alpha', arguments: { q: 'x' } } };
      const viaSdk = { ...call, params: { ...call.params, _meta: {} } };
      const refusal = await send(viaSdk);
      assert.equal(refusal.status, 406, accept);
      assert.match(refusal.text, /"code":-32000,"message":"Not Acceptable: Client must accept both application\/json and text\/event-stream"\},"id":null/);
      assert.deepEqual(await send(call), refusal, `session-less fast path, ${accept}`);
      assert.deepEqual(await send(viaSdk, session), refusal, `session, through the transport, ${accept}`);
      assert.deepEqual(await send(call, session), refusal, `session fast path, ${accept}`);
      // The transport looks at Accept before the session: one it does not know is refused alike.
      assert.deepEqual(await send(call, unknownSession), refusal, `unknown session, ${accept}`);

      const fast = await read(await post('tools/call', { name: 'alpha', arguments: { q: 'x' } }, false, { accept }));
      const sdk = await read(await post('tools/call', { name: 'alpha', arguments: { q: 'x' } }, true, { accept }));
      assert.equal(sdk.status, 200, `2026-07-28, ${accept}`);
      assert.deepEqual(fast, sdk, `2026-07-28, ${accept}`);
    }
    // The GET stream wants SSE: the transport's 406, whether the request names a session or not.
    const get = async (headers: Record<string, string>) =>
      read(await fetch(`${gw.url}/mcp/fast`, { headers: { ...TEST_AUTH, accept: 'application/json', ...headers } }));
    const streamRefusal = await get(session);
    assert.equal(streamRefusal.status, 406);
    assert.match(streamRefusal.text, /"message":"Not Acceptable: Client must accept text\/event-stream"/);
    assert.deepEqual(await get(unknownSession), streamRefusal);
    assert.deepEqual(await get({}), streamRefusal);
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});
