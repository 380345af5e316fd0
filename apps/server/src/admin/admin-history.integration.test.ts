// History, rollback and audit through a gateway on a real etcd and a real MariaDB: the same routes
// as on SQLite, an OpenAPI import recorded as `import` by the importing principal, each entry at the
// revision of its change, and ended sessions (shared with a second replica) in neither audit nor
// history. Never skipped without etcd or MariaDB.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createEtcdDataSource, createSqlDataSource } from '@dynmcp/datasources';
import { silentLogger, type DataSource } from '@dynmcp/plugin';
import { startEtcdServer, startMariaDb, type EtcdServer, type MariaDbServer } from '@dynmcp/testing';
import { sessionChurnStory } from '../test-support/session-churn.js';
import { echoTool, startTestGateway, TEST_KEY, type AdminResponse, type TestGateway } from '../test-support/test-gateway.js';

const UPSTREAM = 'http://127.0.0.1:9';
const OPS_KEY = 'ops-secret-key-2024';
const KEYS = {
  admin: { apiKeys: [TEST_KEY, `ops:${OPS_KEY}`], importTimeoutMs: 120_000 },
  mcp: { sessionSecret: randomBytes(32).toString('base64') },
};

const revisionOf = (response: AdminResponse) => Number(JSON.parse(response.headers.get('etag') ?? 'null'));

function petStore(): Record<string, unknown> {
  const get = (operationId: string) => ({ get: { operationId, responses: { '200': { description: 'ok' } } } });
  return { openapi: '3.0.3', info: { title: 'Pets', version: '1' }, paths: { '/pets': get('listPets'), '/stats': get('stats') } };
}

async function historyStory(gw: TestGateway): Promise<void> {
  const ops = { authorization: `Bearer ${OPS_KEY}` };
  const one = await gw.admin('PUT', '/admin/tds/story', echoTool('story', UPSTREAM, { description: 'one' }), ops);
  assert.equal(one.status, 200, JSON.stringify(one.body));
  const two = await gw.admin('PUT', '/admin/tds/story', echoTool('story', UPSTREAM, { description: 'two' }));
  const gone = await gw.admin('DELETE', '/admin/tds/story', undefined, ops);
  const back = await gw.admin('POST', '/admin/tds/story/rollback', { revision: revisionOf(one) }, ops);
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal((await gw.admin('GET', '/admin/tds/story')).body.data.description, 'one');

  const history = await gw.admin('GET', '/admin/tds/story/history');
  assert.equal(history.status, 200);
  assert.ok(!JSON.stringify(history.body).includes(OPS_KEY) && !JSON.stringify(history.body).includes(TEST_KEY));
  assert.deepEqual(
    history.body.data.map((entry: { revision: number; action: string; principal: string; deleted: boolean }) => [entry.revision, entry.action, entry.principal === 'ops', entry.deleted]),
    [
      [revisionOf(back), 'rollback', true, false],
      [gone.body.meta.revision, 'delete', true, true],
      [revisionOf(two), 'put', false, false],
      [revisionOf(one), 'put', true, false],
    ],
  );
  assert.equal((await gw.admin('POST', '/admin/tds/story/rollback', { revision: revisionOf(one) + 100_000 })).body.error_code, 'REVISION_NOT_FOUND');

  const imported = await gw.admin('POST', '/admin/import/openapi', { document: petStore(), instance_id: 'pets', base_url: 'https://pets.example.com' }, ops);
  assert.equal(imported.status, 200, JSON.stringify(imported.body));
  const audit = await gw.admin('GET', `/admin/audit?since=${revisionOf(back)}`);
  assert.equal(audit.status, 200);
  assert.deepEqual(
    audit.body.data.entries.map((entry: { revision: number; kind: string; id: string; action: string; principal: string }) => [entry.revision, entry.kind, entry.id, entry.action, entry.principal]),
    [
      [imported.body.data.revision, 'ids', 'pets', 'import', 'ops'],
      [imported.body.data.revision, 'tds', 'pets.listPets', 'import', 'ops'],
      [imported.body.data.revision, 'tds', 'pets.stats', 'import', 'ops'],
    ],
  );
  assert.equal(audit.body.data.next_since, imported.body.data.revision);
}

describe('history on etcd', () => {
  let etcd: EtcdServer;
  let gw: TestGateway;
  let peer: TestGateway;
  let store: DataSource;
  before(async () => {
    etcd = await startEtcdServer();
    const prefix = `/dynmcp-history-${process.pid}`;
    const settings = { ...KEYS, datasource: { type: 'etcd', etcd: { endpoints: [etcd.endpoint], prefix } } };
    gw = await startTestGateway(settings);
    peer = await startTestGateway(settings);
    store = createEtcdDataSource({ endpoints: [etcd.endpoint], prefix, logger: silentLogger });
    await store.open();
  });
  after(async () => {
    await store?.close();
    await peer?.stop();
    await gw?.stop();
    await etcd?.close();
  });

  it('records every change with its principal; rollback, history and audit work end to end', async () => {
    await historyStory(gw);
  });

  it('records no ended session, which still reaches the other replica', async () => {
    await sessionChurnStory(gw, peer, store);
  });
});

describe('history on MariaDB', () => {
  let db: MariaDbServer;
  let gw: TestGateway;
  let peer: TestGateway;
  let store: DataSource;
  before(async () => {
    db = await startMariaDb();
    const settings = { ...KEYS, datasource: { type: 'mysql', mysql: { url: db.url }, pollIntervalMs: 100, startupWaitMs: 10_000 } };
    gw = await startTestGateway(settings);
    peer = await startTestGateway(settings);
    store = createSqlDataSource({ client: 'mysql', connection: db.url, logger: silentLogger });
    await store.open();
  });
  after(async () => {
    await store?.close();
    await peer?.stop();
    await gw?.stop();
    await db?.cleanup();
  });

  it('records every change with its principal; rollback, history and audit work end to end', async () => {
    await historyStory(gw);
  });

  it('records no ended session, which still reaches the other replica', async () => {
    await sessionChurnStory(gw, peer, store);
  });
});
