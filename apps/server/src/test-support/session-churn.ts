import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SESSION_REVOCATION_KIND } from '@dynmcp/core';
import { requireHistory, type DataSource } from '@dynmcp/plugin';
import { connectLegacy, TEST_AUTH } from './mcp-clients.js';
import { echoTool, type AdminResponse, type TestGateway } from './test-gateway.js';

const UPSTREAM = 'http://127.0.0.1:9';
const LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

const revisionOf = (response: AdminResponse) => Number(JSON.parse(response.headers.get('etag') ?? 'null'));

/** A request of a 2025-era session, as an SDK client sends it, to any replica. */
function sessionRequest(gw: TestGateway, method: 'POST' | 'DELETE', sessionId: string): Promise<Response> {
  return fetch(`${gw.url}/mcp/churn`, {
    method,
    headers: {
      ...TEST_AUTH,
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'POST' ? { body: JSON.stringify(LIST) } : {}),
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/**
 * Two replicas `a` and `b` sharing `mcp.sessionSecret` and the store `store` (a datasource of its
 * own on it, as a third process would read it): one session ended by the official v1 client (its
 * DELETE), one by a DELETE on the other replica. Each revocation reaches the other replica through
 * the feed and is a record in the store, yet neither the audit nor the store's history has an
 * entry of it, while a tool PUT made after them has its entry.
 */
export async function sessionChurnStory(a: TestGateway, b: TestGateway, store: DataSource): Promise<void> {
  await a.admin('PUT', '/admin/tds/churn', echoTool('churn', UPSTREAM));
  const instance = await a.admin('PUT', '/admin/ids/churn', { name: 'churn', tool_ids: ['churn'] });
  assert.equal(instance.status, 200, JSON.stringify(instance.body));
  const since = revisionOf(instance);
  assert.ok(await b.definitions.waitForRevision(since, 10_000), 'B has the instance');

  const first = await connectLegacy(`${a.url}/mcp/churn`);
  const firstId = first.transport.sessionId as string;
  assert.equal((await first.client.listTools()).tools.length, 1);
  await first.transport.terminateSession();
  await first.client.close();
  const second = await connectLegacy(`${a.url}/mcp/churn`);
  const secondId = second.transport.sessionId as string;
  assert.equal((await sessionRequest(b, 'DELETE', secondId)).status, 200);
  await second.client.close();

  await until('B refuses the session the client ended on A', async () => (await sessionRequest(b, 'POST', firstId)).status === 404);
  await until('A refuses the session ended on B', async () => (await sessionRequest(a, 'POST', secondId)).status === 404);
  const revocations = await store.list(SESSION_REVOCATION_KIND);
  assert.equal(revocations.length, 2, 'both revocations are records of the store');

  const edited = await a.admin('PUT', '/admin/tds/churn', echoTool('churn', UPSTREAM, { description: 'edited' }));
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  const audit = await a.admin('GET', `/admin/audit?since=${since}`);
  assert.equal(audit.status, 200, JSON.stringify(audit.body));
  assert.deepEqual(
    audit.body.data.entries.map((entry: { revision: number; kind: string; id: string }) => [entry.revision, entry.kind, entry.id]),
    [[revisionOf(edited), 'tds', 'churn']],
  );
  assert.equal(audit.body.data.next_since, revisionOf(edited));
  // Not only hidden by the admin API: the store keeps no history of them at all.
  const history = requireHistory(store);
  assert.deepEqual(
    (await history.audit({ since, limit: 100 })).map((entry) => [entry.kind, entry.id]),
    [['tds', 'churn']],
  );
  for (const record of revocations) assert.deepEqual(await history.history(SESSION_REVOCATION_KIND, record.id, { limit: 10 }), []);
  assert.equal((await a.admin('GET', '/admin/tds/churn/history')).body.data.length, 2);
}
