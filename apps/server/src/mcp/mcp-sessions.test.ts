import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectLegacy, connectModern, sessionHeaders } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ mcp: { maxSessions: 2, sessionIdleTimeoutMs: 300, sessionTtlMs: 4000 } });
  await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
  for (const id of ['a', 'b']) await gw.admin('PUT', `/admin/ids/${id}`, { name: id, tool_ids: ['t'] });
});
after(() => gw.stop());

const listWithSession = (instance: string, sessionId: string) =>
  fetch(`${gw.url}/mcp/${instance}`, {
    method: 'POST',
    headers: sessionHeaders(sessionId),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });

test('a session id is bound to its instance: used on another instance it is unknown (404)', async () => {
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/a`);
  try {
    assert.equal((await listWithSession('a', transport.sessionId!)).status, 200);
    assert.equal((await listWithSession('b', transport.sessionId!)).status, 404);
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});

test('sessions are capped: initialize beyond mcp.maxSessions is 503', async () => {
  const first = await connectLegacy(`${gw.url}/mcp/a`);
  const second = await connectLegacy(`${gw.url}/mcp/a`);
  try {
    await assert.rejects(connectLegacy(`${gw.url}/mcp/a`), (error: { code?: number }) => error.code === 503);
  } finally {
    for (const { client, transport } of [first, second]) {
      await transport.terminateSession();
      await client.close();
    }
  }
});

test('an idle session is dropped from memory but served again until its TTL (mcp.sessionTtlMs), then 404', async () => {
  const opened = Date.now();
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/b`);
  const sessionId = transport.sessionId!;
  await client.close(); // closes the client's GET stream; the session stays until it expires
  await sleep(1800);
  // Idle for longer than mcp.sessionIdleTimeoutMs: this replica no longer holds it, and the cap
  // (mcp.maxSessions: 2) counts it no more, so two new sessions fit…
  const others = [await connectLegacy(`${gw.url}/mcp/b`), await connectLegacy(`${gw.url}/mcp/b`)];
  for (const other of others) {
    await other.transport.terminateSession();
    await other.client.close();
  }
  // …while its id still serves (rebuilt from the id) until the TTL, counted from initialize.
  assert.equal((await listWithSession('b', sessionId)).status, 200);
  await sleep(Math.max(0, opened + 4200 - Date.now()));
  assert.equal((await listWithSession('b', sessionId)).status, 404);
});

test('deleting an instance ends its sessions', async () => {
  await gw.admin('PUT', '/admin/ids/doomed', { name: 'doomed', tool_ids: ['t'] });
  const { client, transport } = await connectLegacy(`${gw.url}/mcp/doomed`);
  const sessionId = transport.sessionId!;
  try {
    assert.equal((await gw.admin('DELETE', '/admin/ids/doomed')).status, 200);
    await sleep(100);
    assert.equal((await listWithSession('doomed', sessionId)).status, 404);
    await assert.rejects(client.listTools());
  } finally {
    await client.close();
  }
});

test('a burst of changes reaches a listening client as fewer notifications than changes', async () => {
  await gw.admin('PUT', '/admin/ids/burst', { name: 'burst', tool_ids: Array.from({ length: 10 }, (_, i) => `burst-${i}`) });
  const { client } = await connectModern(`${gw.url}/mcp/burst`);
  let notified = 0;
  client.setNotificationHandler('notifications/tools/list_changed', async () => {
    notified += 1;
  });
  const subscription = await client.listen({ toolsListChanged: true });
  try {
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => gw.admin('PUT', `/admin/tds/burst-${i}`, echoTool(`burst-${i}`, 'http://127.0.0.1:9'))),
    );
    await sleep(300);
    assert.ok(notified >= 1, 'the client was told');
    assert.ok(notified < 10, `10 changes were coalesced (got ${notified} notifications)`);
    assert.equal((await client.listTools()).tools.length, 10);
  } finally {
    await subscription.close();
    await client.close();
  }
});
