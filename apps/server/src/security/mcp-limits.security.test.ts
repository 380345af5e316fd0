/**
 * Rate and concurrency limits of tools/call, per principal, per instance and per tool: a call over a
 * limit is answered at once with 429, Retry-After and a JSON-RPC error naming the limit, never
 * reaches the upstream, and one principal at its limit does not slow another.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';

const KEYS = { a: 'team-a-key-0001', b: 'team-b-key-0002', c: 'team-c-key-0003', d: 'team-d-key-0004' };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** Requests to /hold wait here until the test lets them go. */
const held: ServerResponse[] = [];
function releaseHeld() {
  for (const res of held.splice(0)) res.end('released');
}

function route(hit: UpstreamHit, res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  if (hit.url.startsWith('/hold')) return void held.push(res);
  res.end(`answer ${hit.url}`);
}

const tool = (name: string, upstream: string, path: string, extInfo: Record<string, unknown> = {}) => ({
  name,
  description: `tool ${name}`,
  input_schema: { type: 'object' },
  tds_ext_info: { domain: upstream, method: 'GET', path, ext_info: extInfo },
});

interface CallAnswer {
  status: number;
  retryAfter: string | null;
  body: any;
}

/** A plain 2026-07-28 tools/call, as the modern clients send it. */
async function call(gw: TestGateway, instance: string, key: string, name: string, id: number | string = 1): Promise<CallAnswer> {
  const response = await fetch(`${gw.url}/mcp/${instance}`, {
    method: 'POST',
    headers: {
      ...auth(key),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name,
        arguments: {},
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
}

async function eventually(check: () => boolean, what: string) {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 5000) throw new Error(`${what}: not within 5 s`);
    await sleep(10);
  }
}

describe('tools/call limits', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  const hitsOf = (path: string) => upstream.hits.filter((hit) => hit.url.startsWith(path)).length;

  before(async () => {
    upstream = await startUpstream(route);
    gw = await startTestGateway({
      limits: { principal: { ratePerMinute: 5, concurrency: 2 } },
      auth: {
        keys: Object.entries(KEYS).map(([team, key]) => ({ id: `team-${team}`, key, instances: ['shared', 'metered', 'side'] })),
      },
    });
    const put = async (path: string, body: unknown) => assert.equal((await gw.admin('PUT', path, body)).status, 200, path);
    await put('/admin/tds/hold', tool('hold', upstream.url, '/hold'));
    await put('/admin/tds/fast', tool('fast', upstream.url, '/fast'));
    await put('/admin/tds/single', tool('single', upstream.url, '/hold-single', { limits: { concurrency: 1 } }));
    await put('/admin/ids/shared', { name: 'shared', tool_ids: ['hold', 'fast', 'single'] });
    await put('/admin/ids/side', { name: 'side', tool_ids: ['single'] });
    await put('/admin/ids/metered', { name: 'metered', tool_ids: ['fast'], limits: { rate_per_minute: 2 } });
  });
  after(async () => {
    releaseHeld();
    await gw.stop();
    await upstream.close();
  });

  test('per principal concurrency: the third call at once is 429 and never reaches the upstream; another principal goes on', async () => {
    const running = [call(gw, 'shared', KEYS.a, 'hold', 1), call(gw, 'shared', KEYS.a, 'hold', 2)];
    await eventually(() => held.length === 2, 'two calls reach the upstream');
    const over = await call(gw, 'shared', KEYS.a, 'hold', 'third');
    assert.equal(over.status, 429);
    assert.equal(over.retryAfter, '1');
    assert.equal(over.body.id, 'third');
    assert.equal(over.body.error.code, -32000);
    assert.equal(over.body.error.message, 'Too many calls: caller "team-a" allows 2 calls at once; retry when one of them ends');
    assert.equal(hitsOf('/hold'), 2, 'the refused call never reached the upstream');

    const other = await call(gw, 'shared', KEYS.b, 'fast');
    assert.equal(other.status, 200, 'team B is not held back by team A');
    assert.equal(other.body.result.isError, undefined);

    releaseHeld();
    for (const answer of await Promise.all(running)) assert.equal(answer.status, 200);
    // The units went back when the calls ended.
    assert.equal((await call(gw, 'shared', KEYS.a, 'fast')).status, 200);
  });

  test('per principal rate: the sixth call in a minute is 429 with Retry-After; another principal goes on', async () => {
    for (let i = 0; i < 5; i += 1) assert.equal((await call(gw, 'shared', KEYS.c, 'fast', i)).status, 200);
    const before = hitsOf('/fast');
    const over = await call(gw, 'shared', KEYS.c, 'fast', 6);
    assert.equal(over.status, 429);
    assert.equal(over.body.id, 6);
    assert.match(over.body.error.message, /^Too many calls: caller "team-c" allows 5 calls per minute; retry in (\d+) s$/);
    const seconds = Number(over.retryAfter);
    assert.ok(seconds >= 1 && seconds <= 12, `Retry-After ${over.retryAfter}`);
    assert.equal(over.body.error.data.retryAfterSeconds, seconds);
    assert.equal(hitsOf('/fast'), before);
    assert.equal((await call(gw, 'shared', KEYS.d, 'fast')).status, 200);
  });

  test("an instance's limits count every principal together", async () => {
    assert.equal((await call(gw, 'metered', KEYS.a, 'fast')).status, 200);
    assert.equal((await call(gw, 'metered', KEYS.b, 'fast')).status, 200);
    const over = await call(gw, 'metered', KEYS.d, 'fast');
    assert.equal(over.status, 429);
    assert.match(over.body.error.message, /^Too many calls: instance "metered" allows 2 calls per minute; retry in \d+ s$/);
    assert.ok(Number(over.retryAfter) >= 20);
  });

  test("a tool's limits hold across principals and instances, for the official clients too", async () => {
    const first = call(gw, 'shared', KEYS.b, 'single');
    await eventually(() => held.length === 1, 'the first call reaches the upstream');
    const viaSide = await call(gw, 'side', KEYS.d, 'single');
    assert.equal(viaSide.status, 429);
    assert.equal(viaSide.body.error.message, 'Too many calls: tool "single" allows 1 call at once; retry when one of them ends');

    // A 2025-era session and a 2026-07-28 client see the refusal as an error, not a result.
    const legacy = await connectLegacy(`${gw.url}/mcp/side`, auth(KEYS.d));
    const modern = await connectModern(`${gw.url}/mcp/side`, auth(KEYS.d));
    try {
      await assert.rejects(legacy.client.callTool({ name: 'single', arguments: {} }), /429|Too many calls/);
      await assert.rejects(modern.client.callTool({ name: 'single', arguments: {} }), /429|Too many calls/);
      assert.equal(hitsOf('/hold-single'), 1);
      releaseHeld();
      assert.equal((await first).status, 200);
      const admitted = legacy.client.callTool({ name: 'single', arguments: {} });
      await eventually(() => held.length === 1, 'admitted once the running call ended');
      releaseHeld();
      assert.equal((await admitted).isError, undefined);
    } finally {
      releaseHeld();
      await legacy.transport.terminateSession();
      await legacy.client.close();
      await modern.client.close();
    }
  });

  test('limits in definitions are validated: a bad value is 400 INVALID_PAYLOAD naming the field', async () => {
    const instance = await gw.admin('PUT', '/admin/ids/bad', { name: 'bad', tool_ids: [], limits: { concurrency: 0 } });
    assert.equal(instance.status, 400);
    assert.equal(instance.body.error_code, 'INVALID_PAYLOAD');
    assert.match(instance.body.error, /\/limits\/concurrency must be >= 1/);
    const unknown = await gw.admin('PUT', '/admin/ids/bad', { name: 'bad', tool_ids: [], limits: { per_hour: 5 } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /\/limits has unknown property "per_hour"/);
    const badTool = await gw.admin('PUT', '/admin/tds/bad', tool('bad', upstream.url, '/x', { limits: { rate_per_minute: 1.5 } }));
    assert.equal(badTool.status, 400);
    assert.match(badTool.body.error, /\/tds_ext_info\/ext_info\/limits\/rate_per_minute must be integer/);
  });
});
