import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

/**
 * A failed /mcp call with a wrong key, from `localAddress` (127.0.0.1 unless given), with the
 * given `X-Forwarded-For`; resolves with the status.
 */
function guess(gw: TestGateway, forwardedFor?: string, localAddress = '127.0.0.1'): Promise<number> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  return new Promise((resolve, reject) => {
    const req = request(
      `${gw.url}/mcp/shop`,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: 'Bearer wrong-key-12345',
          ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function gateway(server: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({ server, auth: { maxFailures: 2, failureWindowMs: 60_000 } });
  await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
  await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
  return gw;
}

describe('client address: X-Forwarded-For only from trusted proxies', () => {
  test('without server.trustedProxies, X-Forwarded-For is ignored: a new value per request does not escape the limit', async () => {
    const gw = await gateway();
    try {
      assert.equal(await guess(gw, '203.0.113.1'), 401);
      assert.equal(await guess(gw, '203.0.113.2'), 401);
      assert.equal(await guess(gw, '203.0.113.3'), 429);
      assert.equal(await guess(gw), 429);
    } finally {
      await gw.stop();
    }
  });

  test('behind a trusted proxy the client is the right-most X-Forwarded-For entry that is not a trusted proxy', async () => {
    const gw = await gateway({ trustedProxies: ['127.0.0.1', '10.0.0.0/8'] });
    try {
      // 10.1.2.3 is an inner trusted proxy; whatever the client put on the left is not believed.
      assert.equal(await guess(gw, '198.51.100.7, 203.0.113.5, 10.1.2.3'), 401);
      assert.equal(await guess(gw, '192.0.2.99, 203.0.113.5'), 401);
      assert.equal(await guess(gw, '203.0.113.5'), 429, 'both failures counted against 203.0.113.5');
      assert.equal(await guess(gw, '203.0.113.6'), 401, 'another client behind the same proxy is not blocked');
      assert.equal(await guess(gw, '::ffff:203.0.113.6'), 401);
      assert.equal(await guess(gw, '203.0.113.6'), 429, 'an IPv4-mapped address is the same client');
      // The admin door keys on the same address.
      const admin = await fetch(`${gw.url}/admin/ids`, { headers: { 'x-forwarded-for': '203.0.113.5', authorization: 'Bearer x' } });
      assert.equal(admin.status, 429);
      const otherClient = await gw.admin('GET', '/admin/ids', undefined, { 'x-forwarded-for': '203.0.113.8' });
      assert.equal(otherClient.status, 200);
    } finally {
      await gw.stop();
    }
  });

  test('a peer that is not a trusted proxy cannot pick its address with X-Forwarded-For', async () => {
    const gw = await gateway({ trustedProxies: ['127.0.0.1'] });
    try {
      assert.equal(await guess(gw, '203.0.113.1', '127.0.0.2'), 401);
      assert.equal(await guess(gw, '203.0.113.2', '127.0.0.2'), 401);
      assert.equal(await guess(gw, '203.0.113.3', '127.0.0.2'), 429, 'counted against 127.0.0.2, its socket address');
      assert.equal(await guess(gw, '203.0.113.3'), 401, 'through the trusted proxy, 203.0.113.3 has no failures');
    } finally {
      await gw.stop();
    }
  });
});
