/**
 * 2025-era sessions belong to the caller that opened them: another principal allowed on the same
 * instance cannot use, stream or end them, and one caller at its session cap locks out no one else.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const KEYS = { a: 'team-a-key-0001', b: 'team-b-key-0002', c: 'team-c-key-0003' };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const SESSION_HEADERS = { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };

interface Answer {
  status: number;
  sessionId: string | undefined;
  text: string;
}

/** One MCP request over node:http, optionally from another loopback address (`localAddress`). */
function send(gw: TestGateway, method: string, instance: string, headers: Record<string, string>, body?: unknown, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.port,
        method,
        path: `/mcp/${instance}`,
        localAddress,
        headers: { ...SESSION_HEADERS, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      },
      (res) => {
        // A GET that is served is an event stream that never ends: the status is the answer.
        if (method === 'GET' && res.statusCode === 200) {
          res.destroy();
          return resolve({ status: 200, sessionId: undefined, text: '' });
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sessionId: res.headers['mcp-session-id'] as string | undefined, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

describe('sessions are bound to the caller that opened them', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      mcp: { maxSessions: 20, maxSessionsPerPrincipal: 2 },
      auth: {
        keys: [
          { id: 'team-a', key: KEYS.a, instances: ['shared'] },
          { id: 'team-b', key: KEYS.b, instances: ['shared'] },
          { id: 'team-c', key: KEYS.c, instances: ['shared'] },
        ],
      },
    });
    await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
    await gw.admin('PUT', '/admin/ids/shared', { name: 'shared', tool_ids: ['t'] });
    await gw.admin('PUT', '/admin/ids/open', { name: 'open', tool_ids: ['t'], public: true });
  });
  after(() => gw.stop());

  test("another principal gets 404 for POST, GET and DELETE with a session it did not open, the unknown session's body", async () => {
    const { client, transport } = await connectLegacy(`${gw.url}/mcp/shared`, auth(KEYS.a));
    const stolen = transport.sessionId!;
    try {
      const unknown = await send(gw, 'POST', 'shared', { ...auth(KEYS.b), 'mcp-session-id': '6f1b1a52-0000-4000-8000-000000000000' }, LIST);
      assert.equal(unknown.status, 404);
      const asB = { ...auth(KEYS.b), 'mcp-session-id': stolen };
      const post = await send(gw, 'POST', 'shared', asB, LIST);
      assert.equal(post.status, 404);
      assert.equal(post.text, unknown.text, 'same body as an unknown session: nothing tells B the session exists');
      assert.equal((await send(gw, 'GET', 'shared', { ...asB, accept: 'text/event-stream' })).status, 404);
      const del = await send(gw, 'DELETE', 'shared', asB);
      assert.equal(del.status, 404);
      assert.equal(del.text, unknown.text);

      // B's DELETE ended nothing: A's session still serves A.
      assert.equal((await client.listTools()).tools.length, 1);
      assert.equal((await send(gw, 'POST', 'shared', { ...auth(KEYS.a), 'mcp-session-id': stolen }, LIST)).status, 200);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });

  test('on a public instance, anonymous sessions are bound to the client address', async () => {
    const opened = await send(gw, 'POST', 'open', {}, INITIALIZE);
    assert.equal(opened.status, 200);
    const session = { 'mcp-session-id': opened.sessionId! };
    assert.equal((await send(gw, 'POST', 'open', session, LIST, '127.0.0.2')).status, 404, 'another address');
    assert.equal((await send(gw, 'POST', 'open', session, LIST)).status, 200, 'the address that opened it');
    assert.equal((await send(gw, 'DELETE', 'open', session, undefined, '127.0.0.2')).status, 404);
    assert.equal((await send(gw, 'DELETE', 'open', session)).status, 200);
  });

  test('one principal at its session cap (mcp.maxSessionsPerPrincipal) gets 429; the others are unaffected', async () => {
    const first = await connectLegacy(`${gw.url}/mcp/shared`, auth(KEYS.c));
    const second = await connectLegacy(`${gw.url}/mcp/shared`, auth(KEYS.c));
    try {
      const third = await send(gw, 'POST', 'shared', auth(KEYS.c), INITIALIZE);
      assert.equal(third.status, 429);
      assert.equal(third.sessionId, undefined);
      assert.match(third.text, /Too many sessions: caller \\"team-c\\" holds 2, the most one caller may \(mcp.maxSessionsPerPrincipal\)/);
      await assert.rejects(connectLegacy(`${gw.url}/mcp/shared`, auth(KEYS.c)), (error: { code?: number }) => error.code === 429);

      // Team B opens its own sessions as if team C held none.
      const other = await connectLegacy(`${gw.url}/mcp/shared`, auth(KEYS.b));
      assert.equal((await other.client.listTools()).tools.length, 1);
      await other.transport.terminateSession();
      await other.client.close();

      // Ending one of its sessions gives team C a slot back.
      await first.transport.terminateSession();
      const again = await connectLegacy(`${gw.url}/mcp/shared`, auth(KEYS.c));
      await again.transport.terminateSession();
      await again.client.close();
    } finally {
      await first.client.close();
      await second.transport.terminateSession();
      await second.client.close();
    }
  });

  test('2026-07-28 subscriptions/listen streams count against the same cap: the third is 429, others unaffected, a closed one frees its slot', async () => {
    const listen = (key: string) => connectModern(`${gw.url}/mcp/shared`, auth(key)).then(async (modern) => ({ ...modern, subscription: await modern.client.listen({ toolsListChanged: true }) }));
    const streams = [await listen(KEYS.a), await listen(KEYS.a)];
    try {
      const third = await send(gw, 'POST', 'shared', { ...auth(KEYS.a), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' }, {
        jsonrpc: '2.0',
        id: 9,
        method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true }, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
      });
      assert.equal(third.status, 429, third.text);
      assert.match(third.text, /Too many listen streams: caller \\"team-a\\" holds 2, the most one caller may \(mcp.maxSessionsPerPrincipal\)/);
      assert.match(third.text, /"id":9/);

      const other = await listen(KEYS.b);
      await other.subscription.close();
      await other.client.close();

      const first = streams.shift()!;
      await first.subscription.close();
      await first.client.close();
      // The server sees the stream close a moment after the client drops it.
      let again: Awaited<ReturnType<typeof listen>> | undefined;
      for (let attempt = 0; again === undefined && attempt < 50; attempt += 1) {
        again = await listen(KEYS.a).catch(() => undefined);
        if (again === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(again, 'a slot came back');
      streams.push(again);
    } finally {
      for (const stream of streams) {
        await stream.subscription.close();
        await stream.client.close();
      }
    }
  });
});
