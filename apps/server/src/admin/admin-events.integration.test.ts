// Two gateway replicas on one real etcd: a change written through replica A reaches the
// GET /admin/events stream of replica B within a second, at the same revision, because each
// replica's stream follows what its own live definitions applied from the store's feed. Never
// skipped without etcd.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEtcdServer, type EtcdServer } from '@dynmcp/testing';
import { openEventStream } from '../test-support/event-stream-client.js';
import { echoTool, startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

let etcd: EtcdServer;
let replicaA: TestGateway;
let replicaB: TestGateway;

before(async () => {
  etcd = await startEtcdServer();
  const datasource = { type: 'etcd', etcd: { endpoints: [etcd.endpoint], prefix: `/dynmcp-events-${process.pid}` } };
  [replicaA, replicaB] = await Promise.all([startTestGateway({ datasource }), startTestGateway({ datasource })]);
});

after(async () => {
  await Promise.all([replicaA?.stop(), replicaB?.stop()]);
  await etcd?.close();
});

test('a write through replica A shows on replica B’s stream within 1 s', async () => {
  const stream = await openEventStream(`${replicaB.url}/admin/events`, { authorization: `Bearer ${TEST_KEY}` });
  assert.equal(stream.status, 200);
  assert.equal((await stream.nextEvent()).event, 'ready');

  const started = Date.now();
  const put = await replicaA.admin('PUT', '/admin/tds/from-a', echoTool('from-a', 'http://127.0.0.1:9'));
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const change = await stream.nextEvent(1000);
  const tookMs = Date.now() - started;
  assert.ok(tookMs < 1000, `took ${tookMs} ms`);
  const revision = Number(JSON.parse(put.headers.get('etag')!));
  assert.equal(change.event, 'change');
  assert.equal(change.id, String(revision));
  assert.deepEqual(JSON.parse(change.data!), { revision, changes: [{ kind: 'tool', id: 'from-a', op: 'put' }] });

  const removed = await replicaA.admin('DELETE', '/admin/tds/from-a');
  const deletion = await stream.nextEvent(1000);
  assert.deepEqual(JSON.parse(deletion.data!), { revision: removed.body.meta.revision, changes: [{ kind: 'tool', id: 'from-a', op: 'delete' }] });
  stream.close();
});
