// POST /admin/import/openapi through a gateway on a real etcd and a real MariaDB: every record of one
// import is written at one revision (one transaction), and etcd's --max-txn-ops refusal (each record
// costs 2 operations there: the record and its history entry) is a 413
// that says which flag to raise. Never skipped without etcd or MariaDB.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEtcdServer, startMariaDb, type EtcdServer, type MariaDbServer } from '@dynmcp/testing';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

// The import worker loads through tsx in tests, which takes seconds on a busy machine.
const SLOW_MACHINE = { admin: { importTimeoutMs: 120_000 } };

function document(count: number): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (let index = 0; index < count; index++) {
    paths[`/items${index}/{id}`] = { get: { operationId: `item${index}`, parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'ok' } } } };
  }
  return { openapi: '3.0.3', info: { title: 'Items', version: '1' }, paths };
}

async function assertOneRevision(gw: TestGateway, instanceId: string, count: number): Promise<void> {
  const response = await gw.admin('POST', '/admin/import/openapi', { document: document(count), instance_id: instanceId, base_url: 'https://api.example.com' });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const { revision, created } = response.body.data as { revision: number; created: string[] };
  assert.equal(created.length, count);
  for (const path of [...created.map((id) => `/admin/tds/${id}`), `/admin/ids/${instanceId}`]) {
    assert.equal((await gw.admin('GET', path)).headers.get('etag'), `"${revision}"`, path);
  }
}

describe('OpenAPI import on etcd', () => {
  let etcd: EtcdServer;
  let gw: TestGateway;
  before(async () => {
    etcd = await startEtcdServer({ args: ['--max-txn-ops=16'] });
    gw = await startTestGateway({ ...SLOW_MACHINE, datasource: { type: 'etcd', etcd: { endpoints: [etcd.endpoint], prefix: `/dynmcp-import-${process.pid}` } } });
  });
  after(async () => {
    await gw?.stop();
    await etcd?.close();
  });

  it('writes every tool and the instance in one transaction, at one revision', async () => {
    await assertOneRevision(gw, 'few', 5);
  });

  it('an import over --max-txn-ops is a 413 naming the flag, and writes nothing', async () => {
    const response = await gw.admin('POST', '/admin/import/openapi', { document: document(12), instance_id: 'many', base_url: 'https://api.example.com' });
    assert.equal(response.status, 413, JSON.stringify(response.body));
    assert.equal(response.body.error_code, 'PAYLOAD_TOO_LARGE');
    assert.match(response.body.error, /each definition costs 2 operations.*raise its --max-txn-ops \(default 128\) to at least 26/);
    assert.equal((await gw.admin('GET', '/admin/ids/many')).status, 404);
    assert.equal((await gw.admin('GET', '/admin/tds/many.item0')).status, 404);
  });
});

describe('OpenAPI import on MariaDB', () => {
  let db: MariaDbServer;
  let gw: TestGateway;
  before(async () => {
    db = await startMariaDb();
    gw = await startTestGateway({ ...SLOW_MACHINE, datasource: { type: 'mysql', mysql: { url: db.url }, pollIntervalMs: 100, startupWaitMs: 10_000 } });
  });
  after(async () => {
    await gw?.stop();
    await db?.cleanup();
  });

  it('writes every tool and the instance in one transaction, at one revision', async () => {
    await assertOneRevision(gw, 'items', 20);
  });
});
