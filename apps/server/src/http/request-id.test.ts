/**
 * Every answer carries `x-request-id`, the caller's when it is sane and a new one otherwise,
 * whoever writes the head: the MCP fast paths (2026-07-28, 2025 session and session-less), the
 * SDK's transport (initialize), the GET stream, DELETE, error replies before and after
 * authentication, and the admin door (Express).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_AUTH } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

let gw: TestGateway;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

before(async () => {
  gw = await startTestGateway();
  // Port 9 (discard) refuses: a call answers 200 with an error result, which is all these tests need.
  assert.equal((await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'))).status, 200);
  assert.equal((await gw.admin('PUT', '/admin/ids/s', { name: 's', tool_ids: ['t'] })).status, 200);
});
after(() => gw.stop());

const CALL = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { path: { item: 'x' } } } };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'request-id-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'request-id-test', version: '1.0.0' } },
};

async function post(body: unknown, headers: Record<string, string> = {}, path = '/mcp/s') {
  const response = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response;
}

async function openSession(): Promise<string> {
  const opened = await post(INITIALIZE);
  assert.equal(opened.status, 200);
  const sessionId = opened.headers.get('mcp-session-id')!;
  const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
  assert.equal((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status, 202);
  return sessionId;
}

describe('x-request-id', () => {
  it("echoes a sane caller's id, and gives each answer without one a new id", async () => {
    const given = await post(CALL, { 'x-request-id': 'trace-42' });
    assert.equal(given.status, 200);
    assert.equal(given.headers.get('x-request-id'), 'trace-42');
    const first = await post(CALL);
    const second = await post(CALL);
    assert.match(first.headers.get('x-request-id') ?? '', UUID);
    assert.match(second.headers.get('x-request-id') ?? '', UUID);
    assert.notEqual(first.headers.get('x-request-id'), second.headers.get('x-request-id'));
    // Spaces (and anything else outside printable ASCII) or over 128 characters: replaced.
    assert.match((await post(CALL, { 'x-request-id': 'two words' })).headers.get('x-request-id') ?? '', UUID);
    assert.match((await post(CALL, { 'x-request-id': 'x'.repeat(129) })).headers.get('x-request-id') ?? '', UUID);
  });

  it('is on every kind of /mcp answer, each with its own head', async () => {
    const answers: Record<string, Response> = {};
    answers['2026-07-28 tools/call'] = await post(
      { ...CALL, params: { ...CALL.params, _meta: MODERN_META } },
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 't', 'x-request-id': 'modern' },
    );
    answers['2025 session-less tools/call'] = await post(CALL, { 'x-request-id': 'sessionless' });
    answers['initialize (the SDK)'] = await post(INITIALIZE, { 'x-request-id': 'initialize' });
    const sessionId = await openSession();
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    answers['2025 session tools/call'] = await post(CALL, { ...session, 'x-request-id': 'session' });
    answers['unknown session'] = await post(CALL, { 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-11-25', 'x-request-id': 'unknown-session' });
    answers['invalid JSON'] = await post('{"jsonrpc":', { 'x-request-id': 'invalid-json' });
    answers['unknown instance'] = await post(CALL, { 'x-request-id': 'unknown-instance' }, '/mcp/nope');
    answers['no credentials'] = await post(CALL, { authorization: '', 'x-request-id': 'no-credentials' });
    const stream = new AbortController();
    const get = await fetch(`${gw.url}/mcp/s`, {
      headers: { ...TEST_AUTH, ...session, accept: 'text/event-stream', 'x-request-id': 'get-stream' },
      signal: stream.signal,
    });
    answers['GET stream'] = get;
    stream.abort();
    const ended = await fetch(`${gw.url}/mcp/s`, { method: 'DELETE', headers: { ...TEST_AUTH, ...session, 'x-request-id': 'delete' } });
    await ended.arrayBuffer();
    answers.DELETE = ended;
    const adminAnswer = await fetch(`${gw.url}/admin/ids/s`, { headers: { ...TEST_AUTH, 'x-request-id': 'admin' } });
    await adminAnswer.arrayBuffer();
    answers['admin door'] = adminAnswer;

    const expected: Record<string, [number, string]> = {
      '2026-07-28 tools/call': [200, 'modern'],
      '2025 session-less tools/call': [200, 'sessionless'],
      'initialize (the SDK)': [200, 'initialize'],
      '2025 session tools/call': [200, 'session'],
      'unknown session': [404, 'unknown-session'],
      'invalid JSON': [400, 'invalid-json'],
      'unknown instance': [404, 'unknown-instance'],
      'no credentials': [401, 'no-credentials'],
      'GET stream': [200, 'get-stream'],
      DELETE: [200, 'delete'],
      'admin door': [200, 'admin'],
    };
    for (const [name, [status, id]] of Object.entries(expected)) {
      assert.equal(answers[name]?.status, status, `${name}: status`);
      assert.equal(answers[name]?.headers.get('x-request-id'), id, `${name}: x-request-id`);
    }
  });
});
