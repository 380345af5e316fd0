/**
 * A session opened on another replica is rebuilt by replaying the client's handshake through the
 * SDK's public API (session-restore.ts). These tests pin what that relies on in the SDK, so an SDK
 * upgrade that changes it fails here rather than in production: the rebuilt transport answers
 * requests with the session's id and only with it, refuses a second initialize, streams
 * notifications on GET, and its server knows the client's capabilities and protocol version.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Server, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { restoreSession } from './session-restore.js';
import { createSessionTokens, randomSessionSecret } from './session-token.js';

const tokens = createSessionTokens({ secret: randomSessionSecret(), ttlMs: 60_000 });

async function restored(init: { protocolVersion?: unknown; capabilities?: unknown }) {
  const { token, claims } = tokens.issue('shop', 'team-a', init);
  const server = new Server({ name: 'gw/shop', version: '1' }, { capabilities: { tools: { listChanged: true }, logging: {} } });
  server.setRequestHandler('tools/list', async () => ({ tools: [] }));
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => token });
  await server.connect(transport);
  await restoreSession(transport, token, claims);
  return { token, server, transport };
}

const post = (body: unknown, headers: Record<string, string>) =>
  new Request('http://127.0.0.1/mcp/shop', {
    method: 'POST',
    headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test('a restored session answers requests with its id, in the negotiated version, and knows the client', async () => {
  const { token, server, transport } = await restored({ protocolVersion: '2025-06-18', capabilities: { roots: {}, sampling: {} } });
  try {
    assert.equal(transport.sessionId, token);
    const answer = await transport.handleRequest(post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': token, 'mcp-protocol-version': '2025-06-18' }));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('mcp-session-id'), token);
    assert.match(await answer.text(), /"result":\{"tools":\[\]\}/);
    assert.deepEqual(server.getClientCapabilities(), { roots: {}, sampling: {} });
    assert.equal(server.getNegotiatedProtocolVersion(), '2025-06-18');
  } finally {
    await transport.close();
    await server.close();
  }
});

test('a restored session refuses other ids (404), no id (400) and a second initialize (400)', async () => {
  const { token, server, transport } = await restored({ protocolVersion: '2025-11-25', capabilities: {} });
  try {
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    assert.equal((await transport.handleRequest(post(list, { 'mcp-session-id': `${token}x` }))).status, 404);
    assert.equal((await transport.handleRequest(post(list, {}))).status, 400);
    const again = { jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
    assert.equal((await transport.handleRequest(post(again, {}))).status, 400);
  } finally {
    await transport.close();
    await server.close();
  }
});

test('an unknown or missing protocol version negotiates the newest, as the original initialize did', async () => {
  const { server, transport } = await restored({ protocolVersion: undefined, capabilities: undefined });
  try {
    assert.equal(server.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.deepEqual(server.getClientCapabilities(), {});
  } finally {
    await transport.close();
    await server.close();
  }
});

test('a restored session streams list_changed on its GET stream', async () => {
  const { token, server, transport } = await restored({ protocolVersion: '2025-11-25', capabilities: {} });
  try {
    const stream = await transport.handleRequest(
      new Request('http://127.0.0.1/mcp/shop', { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': token } }),
    );
    assert.equal(stream.status, 200);
    await server.sendToolListChanged();
    const reader = stream.body!.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /notifications\/tools\/list_changed/);
    await reader.cancel();
  } finally {
    await transport.close();
    await server.close();
  }
});
