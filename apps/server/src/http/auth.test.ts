import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const KEYS = {
  adminOnly: 'admin-only-key-123',
  teamA: 'team-a-key-4567',
  teamB: 'team-b-key-8910',
};

describe('auth: admin keys, scoped keys, public instances', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      auth: {
        keys: [
          { id: 'ops', key: KEYS.adminOnly, admin: true, instances: [] },
          { id: 'team-a', key: KEYS.teamA, instances: ['shop-a'] },
          { id: 'team-b', key: KEYS.teamB },
        ],
      },
    });
    await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
    await gw.admin('PUT', '/admin/ids/shop-a', { name: 'a', tool_ids: ['t'] });
    await gw.admin('PUT', '/admin/ids/shop-b', { name: 'b', tool_ids: ['t'], allowed_principals: ['team-b'] });
    await gw.admin('PUT', '/admin/ids/open', { name: 'open', tool_ids: ['t'], public: true });
  });
  after(() => gw.stop());

  const mcp = (instance: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/mcp/${instance}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  test('an admin-only key may use the admin API but no instance', async () => {
    const admin = await fetch(`${gw.url}/admin/ids`, { headers: bearer(KEYS.adminOnly) });
    assert.equal(admin.status, 200);
    assert.equal((await mcp('shop-a', bearer(KEYS.adminOnly))).status, 404);
  });

  test('an instance-scoped key may use its instances only, and not the admin API', async () => {
    const { client } = await connectLegacy(`${gw.url}/mcp/shop-a`, bearer(KEYS.teamA));
    assert.equal((await client.listTools()).tools.length, 1);
    await client.close();
    const modern = await connectModern(`${gw.url}/mcp/shop-a`, { 'x-api-key': KEYS.teamA });
    assert.equal((await modern.client.listTools()).tools.length, 1);
    await modern.client.close();

    const other = await mcp('shop-b', bearer(KEYS.teamA));
    const unknown = await mcp('no-such-instance', bearer(KEYS.teamA));
    assert.equal(other.status, 404);
    assert.equal(unknown.status, 404);
    // Not allowed looks exactly like not there.
    assert.equal((await other.text()).replace('shop-b', 'X'), (await unknown.text()).replace('no-such-instance', 'X'));

    const admin = await fetch(`${gw.url}/admin/ids`, { headers: bearer(KEYS.teamA) });
    assert.equal(admin.status, 403);
    assert.equal(((await admin.json()) as { error_code: string }).error_code, 'FORBIDDEN');
  });

  test('an instance grants access to principals it lists in allowed_principals', async () => {
    assert.equal((await mcp('shop-b', bearer(KEYS.teamB))).status, 200);
    assert.equal((await mcp('shop-a', bearer(KEYS.teamB))).status, 404);
  });

  test('a public instance is served without credentials', async () => {
    const { client } = await connectLegacy(`${gw.url}/mcp/open`, {});
    assert.equal((await client.listTools()).tools.length, 1);
    await client.close();
    assert.equal((await mcp('open')).status, 200);
  });

  test('missing or wrong credentials on /mcp: 401 with the same body whether the instance exists or not', async () => {
    const bodies = new Set<string>();
    for (const instance of ['shop-a', 'no-such-instance']) {
      const attempts: Array<Record<string, string>> = [{}, bearer('wrong-key'), { 'x-api-key': 'nope' }];
      for (const headers of attempts) {
        const res = await mcp(instance, headers);
        assert.equal(res.status, 401, `${instance} ${JSON.stringify(headers)}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        bodies.add(await res.text());
      }
    }
    assert.equal(bodies.size, 1);
    assert.match([...bodies][0]!, /Unauthorized/);
  });

  test('instance definitions validate access fields', async () => {
    const bad = await gw.admin('PUT', '/admin/ids/x', { name: 'x', tool_ids: [], public: 'yes' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /public/);
  });
});
