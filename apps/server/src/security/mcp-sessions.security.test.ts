/**
 * 2025-era sessions belong to the caller that opened them: another principal allowed on the same
 * instance cannot use, stream or end them, one caller at its session cap locks out no one else, and
 * a caller that loses access to the instance loses its sessions there, open streams included.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { openEventStream } from '../test-support/event-stream-client.js';
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
      assert.equal(JSON.parse(third.text).id, INITIALIZE.id, 'the error answers the refused initialize by its id');
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

/** Opens a 2025-era session with `headers` (its credentials): a raw initialize, then notifications/initialized; resolves with its id. */
async function openSession(gw: TestGateway, instance: string, headers: Record<string, string>): Promise<string> {
  const opened = await send(gw, 'POST', instance, headers, INITIALIZE);
  assert.equal(opened.status, 200, opened.text);
  const session = { ...headers, 'mcp-session-id': opened.sessionId! };
  assert.equal((await send(gw, 'POST', instance, session, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
  return opened.sessionId!;
}

/** The session's GET notification stream, open. */
async function openStream(gw: TestGateway, instance: string, headers: Record<string, string>, sessionId: string) {
  const stream = await openEventStream(`${gw.url}/mcp/${instance}`, {
    ...headers,
    ...SESSION_HEADERS,
    accept: 'text/event-stream',
    'mcp-session-id': sessionId,
  });
  assert.equal(stream.status, 200);
  return stream;
}

describe('a refusal by the session cap names the refused request', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      mcp: { maxSessionsPerPrincipal: 1, sessionIdleTimeoutMs: 200 },
      auth: { keys: [{ id: 'team-a', key: KEYS.a, instances: ['shared'] }] },
    });
    await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
    await gw.admin('PUT', '/admin/ids/shared', { name: 'shared', tool_ids: ['t'] });
  });
  after(() => gw.stop());

  test('the 429 carries the id of the one request it refused, and null when the request has none', async () => {
    const first = await openSession(gw, 'shared', auth(KEYS.a));
    const refused = await send(gw, 'POST', 'shared', auth(KEYS.a), { ...INITIALIZE, id: 'init-2' });
    assert.equal(refused.status, 429);
    assert.equal(JSON.parse(refused.text).id, 'init-2');

    // Idle (mcp.sessionIdleTimeoutMs), the first session is dropped from memory while its id stays
    // valid (the sweep runs every second); another session, kept busy by its open stream, takes
    // team A's one slot meanwhile…
    let second: Answer | undefined;
    for (const deadline = Date.now() + 5000; second === undefined && Date.now() < deadline; ) {
      const opened = await send(gw, 'POST', 'shared', auth(KEYS.a), INITIALIZE);
      if (opened.status === 200) second = opened;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(second?.sessionId, 'the idle session freed its slot');
    const stream = await openStream(gw, 'shared', auth(KEYS.a), second.sessionId);
    try {
      // …so rebuilding the first would exceed the cap: its request is refused by its own id,
      const asFirst = { ...auth(KEYS.a), 'mcp-session-id': first };
      const list = await send(gw, 'POST', 'shared', asFirst, { ...LIST, id: 'list-7' });
      assert.equal(list.status, 429, list.text);
      assert.equal(JSON.parse(list.text).id, 'list-7');
      // and a GET, which has no JSON-RPC request, with id null.
      const get = await send(gw, 'GET', 'shared', { ...asFirst, accept: 'text/event-stream' });
      assert.equal(get.status, 429);
      assert.equal(JSON.parse(get.text).id, null);
    } finally {
      stream.close();
    }
  });
});

describe('a caller that loses access to an instance loses its sessions there', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      auth: {
        keys: [
          // Team A may use the instance by its own grant; team B only while the instance lists it.
          { id: 'team-a', key: KEYS.a, instances: ['watched'] },
          { id: 'team-b', key: KEYS.b, instances: [] },
        ],
      },
    });
    await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
    await gw.admin('PUT', '/admin/tds/u', echoTool('u', 'http://127.0.0.1:9'));
    await gw.admin('PUT', '/admin/ids/watched', { name: 'watched', tool_ids: ['t'], allowed_principals: ['team-b'] });
    await gw.admin('PUT', '/admin/ids/open', { name: 'open', tool_ids: ['t'], public: true });
  });
  after(() => gw.stop());

  test("an instance change that drops a principal ends its session's GET stream; a principal that keeps access keeps its stream", async () => {
    const sessionA = await openSession(gw, 'watched', auth(KEYS.a));
    const sessionB = await openSession(gw, 'watched', auth(KEYS.b));
    const streamA = await openStream(gw, 'watched', auth(KEYS.a), sessionA);
    const streamB = await openStream(gw, 'watched', auth(KEYS.b), sessionB);
    try {
      // Team B is no longer listed (and the tools change, so the sessions that stay are told).
      assert.equal((await gw.admin('PUT', '/admin/ids/watched', { name: 'watched', tool_ids: ['t', 'u'], allowed_principals: [] })).status, 200);
      assert.equal(await streamB.ended(3000), true, "team B's stream ended");
      assert.equal((await send(gw, 'POST', 'watched', { ...auth(KEYS.b), 'mcp-session-id': sessionB }, LIST)).status, 404);

      const told = await streamA.nextEvent(3000);
      assert.match(told.data ?? '', /"method":"notifications\/tools\/list_changed"/);
      assert.equal(await streamA.ended(300), false, "team A's stream stays open");
      const listed = await send(gw, 'POST', 'watched', { ...auth(KEYS.a), 'mcp-session-id': sessionA }, LIST);
      assert.equal(listed.status, 200);
      assert.match(listed.text, /"name":"u"/);

      // Deleting the instance takes it from everyone: team A's stream ends too.
      assert.equal((await gw.admin('DELETE', '/admin/ids/watched')).status, 200);
      assert.equal(await streamA.ended(3000), true, "team A's stream ended with the instance");
    } finally {
      streamA.close();
      streamB.close();
    }
  });

  test('a change that takes an instance from a caller ends its 2026-07-28 listen streams; a caller that keeps access keeps its stream', async () => {
    await gw.admin('PUT', '/admin/ids/listened', { name: 'listened', tool_ids: ['t'], allowed_principals: ['team-a', 'team-b'] });
    const listen = (key: string) =>
      connectModern(`${gw.url}/mcp/listened`, auth(key)).then(async (modern) => ({ ...modern, subscription: await modern.client.listen({ toolsListChanged: true }) }));
    const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms))]);
    const streamA = await listen(KEYS.a);
    const streamB = await listen(KEYS.b);
    try {
      assert.equal((await gw.admin('PUT', '/admin/ids/listened', { name: 'listened', tool_ids: ['t', 'u'], allowed_principals: ['team-a'] })).status, 200);
      assert.equal(await within(streamB.subscription.closed, 3000), 'remote', "team B's listen stream ended");
      await assert.rejects(listen(KEYS.b), "team B's new listen is refused");
      assert.equal(await within(streamA.subscription.closed, 300), 'open', "team A's listen stream stays open");
      const listed = await streamA.client.listTools();
      assert.deepEqual(listed.tools.map((tool) => tool.name).sort(), ['t', 'u']);
    } finally {
      for (const stream of [streamA, streamB]) {
        await stream.subscription.close();
        await stream.client.close();
      }
    }
  });

  test('an instance that stops being public ends the streams of its anonymous sessions', async () => {
    const session = await openSession(gw, 'open', {});
    const stream = await openStream(gw, 'open', {}, session);
    try {
      assert.equal((await gw.admin('PUT', '/admin/ids/open', { name: 'open', tool_ids: ['t'] })).status, 200);
      assert.equal(await stream.ended(3000), true);
    } finally {
      stream.close();
    }
  });
});
