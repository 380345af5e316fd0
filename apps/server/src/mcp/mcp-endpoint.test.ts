import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectLegacy, connectModern, TEST_AUTH, watchToolChanges } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';

/** The upstream API: /users/{id}, /search (flat query), /orders (POST body), /boom (500), /slow (never answers). */
function route(hit: UpstreamHit, res: ServerResponse) {
  const url = new URL(hit.url, 'http://x');
  if (url.pathname === '/boom') {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('database on fire');
    return;
  }
  if (url.pathname === '/slow') return; // never answers: the gateway's timeout must fire
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ method: hit.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: hit.body ? JSON.parse(hit.body) : null }));
}

const groupedTool = (upstream: string) => ({
  name: 'get_user',
  title: 'Get user',
  description: 'Fetch one user',
  input_schema: {
    type: 'object',
    properties: {
      path: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
      query: { type: 'object', properties: { fields: { type: 'string' } } },
    },
    required: ['path'],
  },
  annotations: { readOnlyHint: true },
  tds_ext_info: { domain: upstream, method: 'GET', path: '/users/{id}', required_params: {}, ext_info: {} },
});
const flatSearch = (upstream: string) => ({
  name: 'search',
  description: 'Search with flat arguments',
  input_schema: { type: 'object', properties: { q: { type: 'string' }, limit: { type: 'integer' } }, required: ['q'] },
  tds_ext_info: { domain: upstream, method: 'GET', path: '/search', required_params: {}, ext_info: {} },
});
const flatOrder = (upstream: string) => ({
  name: 'create_order',
  description: 'Create an order (flat arguments become a JSON body)',
  input_schema: { type: 'object', properties: { item: { type: 'string' }, qty: { type: 'integer' } }, required: ['item'] },
  output_schema: { type: 'object', properties: { method: { type: 'string' } } },
  tds_ext_info: { domain: upstream, method: 'POST', path: '/orders', required_params: {}, ext_info: {} },
});
const boom = (upstream: string) => ({
  name: 'boom',
  description: 'Always 500',
  input_schema: { type: 'object' },
  tds_ext_info: { domain: upstream, method: 'GET', path: '/boom' },
});
const slow = (upstream: string) => ({
  name: 'slow',
  description: 'Never answers',
  input_schema: { type: 'object' },
  tds_ext_info: { domain: upstream, method: 'GET', path: '/slow', ext_info: { timeout_ms: 300 } },
});

const textOf = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>).map((block) => block.text ?? '').join('\n');

describe('MCP endpoint with the official clients', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  const ids = { stateful: 'shop', stateless: 'shop-stateless' };

  before(async () => {
    upstream = await startUpstream(route);
    gw = await startTestGateway();
    for (const [id, tool] of Object.entries({
      'get-user': groupedTool(upstream.url),
      search: flatSearch(upstream.url),
      order: flatOrder(upstream.url),
      boom: boom(upstream.url),
      slow: slow(upstream.url),
    })) {
      assert.equal((await gw.admin('PUT', `/admin/tds/${id}`, tool)).status, 200);
    }
    const toolIds = ['search', 'get-user', 'order', 'boom', 'slow', 'missing-one'];
    assert.equal((await gw.admin('PUT', `/admin/ids/${ids.stateful}`, { name: 'shop', tool_ids: toolIds })).status, 200);
    const stateless = { name: 'shop2', tool_ids: toolIds, metadata: '{"proto_type":"streamable-stateless"}' };
    assert.equal((await gw.admin('PUT', `/admin/ids/${ids.stateless}`, stateless)).status, 200);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  const eras = [
    { era: 'v1 client, stateful instance', connect: () => connectLegacy(`${gw.url}/mcp/${ids.stateful}`) },
    { era: 'v1 client, stateless instance', connect: () => connectLegacy(`${gw.url}/mcp/${ids.stateless}`) },
    { era: 'v2 client (2026-07-28)', connect: () => connectModern(`${gw.url}/mcp/${ids.stateful}`) },
  ];

  for (const { era, connect } of eras) {
    describe(era, () => {
      test('tools/list returns the instance tools in a stable order, schemas verbatim', async () => {
        const { client } = await connect();
        try {
          const { tools } = await client.listTools();
          assert.deepEqual(tools.map((tool) => tool.name), ['boom', 'create_order', 'get_user', 'search', 'slow']);
          const user = tools.find((tool) => tool.name === 'get_user')!;
          assert.deepEqual(user.inputSchema, groupedTool(upstream.url).input_schema);
          assert.equal(user.title, 'Get user');
          assert.deepEqual(user.annotations, { readOnlyHint: true });
          const order = tools.find((tool) => tool.name === 'create_order')!;
          assert.deepEqual(order.outputSchema, flatOrder(upstream.url).output_schema);
        } finally {
          await client.close();
        }
      });

      test('tools/call with grouped and flat arguments reaches the upstream', async () => {
        const { client } = await connect();
        try {
          const before = upstream.hits.length;
          const user = await client.callTool({ name: 'get_user', arguments: { path: { id: 42 }, query: { fields: 'name' } } });
          assert.notEqual(user.isError, true, textOf(user));
          assert.deepEqual(JSON.parse(textOf(user)), { method: 'GET', path: '/users/42', query: { fields: 'name' }, body: null });

          const search = await client.callTool({ name: 'search', arguments: { q: 'red shoes', limit: 5 } });
          assert.deepEqual(JSON.parse(textOf(search)).query, { q: 'red shoes', limit: '5' });

          const order = await client.callTool({ name: 'create_order', arguments: { item: 'book', qty: 2 } });
          assert.notEqual(order.isError, true, textOf(order));
          assert.deepEqual(order.structuredContent, { method: 'POST', path: '/orders', query: {}, body: { item: 'book', qty: 2 } });
          assert.equal(upstream.hits.length, before + 3);
        } finally {
          await client.close();
        }
      });

      test('invalid arguments are an isError result and never reach the upstream', async () => {
        const { client } = await connect();
        try {
          const before = upstream.hits.length;
          const result = await client.callTool({ name: 'get_user', arguments: { path: { id: 'forty-two' } } });
          assert.equal(result.isError, true);
          assert.match(textOf(result), /Invalid arguments.*\/path\/id must be integer/);
          const missing = await client.callTool({ name: 'search', arguments: {} });
          assert.equal(missing.isError, true);
          assert.match(textOf(missing), /"q"/);
          assert.equal(upstream.hits.length, before);
        } finally {
          await client.close();
        }
      });

      test('upstream 500 and upstream timeout are isError results that say what happened', async () => {
        const { client } = await connect();
        try {
          const failed = await client.callTool({ name: 'boom', arguments: {} });
          assert.equal(failed.isError, true);
          assert.match(textOf(failed), /500/);
          assert.match(textOf(failed), /database on fire/);
          const started = Date.now();
          const timedOut = await client.callTool({ name: 'slow', arguments: {} });
          assert.equal(timedOut.isError, true);
          assert.match(textOf(timedOut), /timed out/);
          assert.ok(Date.now() - started < 5000);
        } finally {
          await client.close();
        }
      });

      test('an unknown tool is a JSON-RPC error, also for a tool of another instance', async () => {
        const { client } = await connect();
        try {
          await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /Unknown tool: no_such_tool/);
        } finally {
          await client.close();
        }
      });
    });
  }

  test('an unknown instance is 404 for both clients', async () => {
    await assert.rejects(connectLegacy(`${gw.url}/mcp/no-such-instance`), (error: { code?: number; message: string }) => {
      assert.equal(error.code, 404);
      assert.match(error.message, /Unknown MCP instance.*no-such-instance/);
      return true;
    });
    // The v2 client reports the 404 of its server/discover probe as a failed negotiation.
    await assert.rejects(connectModern(`${gw.url}/mcp/no-such-instance`), /server\/discover/);
    const discover = await fetch(`${gw.url}/mcp/no-such-instance`, {
      method: 'POST',
      headers: {
        ...TEST_AUTH,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'server/discover',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'server/discover',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    assert.equal(discover.status, 404);
  });

  test('tool names resolve within the instance only', async () => {
    await gw.admin('PUT', '/admin/tds/private', { ...flatSearch(upstream.url), name: 'private_tool' });
    await gw.admin('PUT', '/admin/ids/other', { name: 'other', tool_ids: ['private'] });
    const { client } = await connectLegacy(`${gw.url}/mcp/${ids.stateful}`);
    try {
      await assert.rejects(client.callTool({ name: 'private_tool', arguments: { q: 'x' } }), /Unknown tool/);
    } finally {
      await client.close();
    }
  });

  test('stateful instances give sessions; DELETE ends one; stateless instances answer GET with 405', async () => {
    const { client, transport } = await connectLegacy(`${gw.url}/mcp/${ids.stateful}`);
    const sessionId = transport.sessionId;
    assert.ok(sessionId, 'a stateful instance mints a session id');
    assert.equal(gw.definitions.instance(ids.stateful)?.protoType, 'streamable-stateful');
    await transport.terminateSession();
    await client.close();
    const after = await fetch(`${gw.url}/mcp/${ids.stateful}`, {
      method: 'POST',
      headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(after.status, 404);

    const stateless = await connectLegacy(`${gw.url}/mcp/${ids.stateless}`);
    assert.equal(stateless.transport.sessionId, undefined);
    await stateless.client.close();
    const get = await fetch(`${gw.url}/mcp/${ids.stateless}`, { headers: { ...TEST_AUTH, accept: 'text/event-stream' } });
    assert.equal(get.status, 405);
  });

  test('Origin and Host are checked (403), the body limit holds (413)', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
    const headers = { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const evil = await fetch(`${gw.url}/mcp/${ids.stateful}`, { method: 'POST', headers: { ...headers, origin: 'http://evil.example' }, body: JSON.stringify(init) });
    assert.equal(evil.status, 403);
    const local = await fetch(`${gw.url}/mcp/${ids.stateful}`, { method: 'POST', headers: { ...headers, origin: 'http://localhost:3000' }, body: JSON.stringify(init) });
    assert.equal(local.status, 200);
    const rebinding = await import('node:http').then(
      (http) =>
        new Promise<number>((resolve, reject) => {
          const req = http.request(`${gw.url}/mcp/${ids.stateful}`, { method: 'POST', headers: { ...headers, host: 'attacker.example' } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end(JSON.stringify(init));
        }),
    );
    assert.equal(rebinding, 403);
    const huge = await fetch(`${gw.url}/mcp/${ids.stateful}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...init, padding: 'x'.repeat(gw.config.server.bodyLimitBytes + 10) }),
    });
    assert.equal(huge.status, 413);
  });

  test('plain JSON-RPC as in the Rust dynmcp README: curl defaults (Accept */*), no initialize, no session', async () => {
    const res = await fetch(`${gw.url}/mcp/${ids.stateful}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: '*/*', ...TEST_AUTH },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const json = text.startsWith('{') ? JSON.parse(text) : JSON.parse(/^data: (.*)$/m.exec(text)![1]!);
    assert.equal(json.result.tools.length, 5);
  });

  test('a tool added, changed or removed is visible to the next tools/list of connected clients', async () => {
    const legacy = await connectLegacy(`${gw.url}/mcp/${ids.stateful}`);
    const modern = await connectModern(`${gw.url}/mcp/${ids.stateful}`);
    try {
      const names = async () => ({
        legacy: (await legacy.client.listTools()).tools.map((tool) => tool.name),
        modern: (await modern.client.listTools()).tools.map((tool) => tool.name),
      });
      // Added: the instance already lists "missing-one".
      await gw.admin('PUT', '/admin/tds/missing-one', { ...flatSearch(upstream.url), name: 'late_tool' });
      let now = await names();
      assert.ok(now.legacy.includes('late_tool') && now.modern.includes('late_tool'));
      // Changed.
      await gw.admin('PUT', '/admin/tds/missing-one', { ...flatSearch(upstream.url), name: 'late_tool', description: 'changed' });
      const described = (await legacy.client.listTools()).tools.find((tool) => tool.name === 'late_tool');
      assert.equal(described?.description, 'changed');
      // Removed.
      await gw.admin('DELETE', '/admin/tds/missing-one');
      now = await names();
      assert.ok(!now.legacy.includes('late_tool') && !now.modern.includes('late_tool'));
    } finally {
      await legacy.client.close();
      await modern.client.close();
    }
  });

  test('connected clients are told: list_changed on the 2025 GET stream and on 2026 listen streams', async () => {
    const watch = await watchToolChanges(`${gw.url}/mcp/${ids.stateful}`);
    const { counts } = watch;
    try {
      await gw.admin('PUT', '/admin/tds/notify-me', { ...flatSearch(upstream.url), name: 'notify_me' });
      await gw.admin('PUT', `/admin/ids/${ids.stateful}`, {
        name: 'shop',
        tool_ids: ['search', 'get-user', 'order', 'boom', 'slow', 'missing-one', 'notify-me'],
      });
      const deadline = Date.now() + 3000;
      while ((counts.legacy === 0 || counts.modern === 0) && Date.now() < deadline) await sleep(25);
      assert.ok(counts.legacy >= 1, 'v1 client got list_changed');
      assert.ok(counts.modern >= 1, 'v2 client got list_changed');
    } finally {
      await watch.close();
    }
  });
});
