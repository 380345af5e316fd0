/**
 * Two gateways on one real etcd: a credential stored or rotated through one replica is what the
 * other sends upstream on its next call, through the store's feed; etcd holds only ciphertext.
 * Never skipped without etcd.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcdServer, startUpstream, type EtcdServer, type TestUpstream } from '@dynmcp/testing';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const PREFIX = `/dynmcp-credentials-${process.pid}`;
const ALICE = { authorization: 'Bearer alice-key-0001' };
const FIRST = 'tok_first_value_on_replica_a';
const ROTATED = 'tok_rotated_value_on_replica_a';

let etcd: EtcdServer;
let upstream: TestUpstream;
let replicaA: TestGateway;
let replicaB: TestGateway;

before(async () => {
  [etcd, upstream] = await Promise.all([startEtcdServer(), startUpstream()]);
  const settings = {
    datasource: { type: 'etcd', etcd: { endpoints: [etcd.endpoint], prefix: PREFIX } },
    credentials: { key: randomBytes(32).toString('base64') },
    executor: { egress: { allow: ['127.0.0.1'] } },
    auth: { keys: [{ id: 'alice', key: 'alice-key-0001', instances: '*' }] },
  };
  [replicaA, replicaB] = await Promise.all([startTestGateway(settings), startTestGateway(settings)]);
  const tool = {
    name: 'gh',
    description: 'calls the upstream as the caller',
    input_schema: { type: 'object', properties: {} },
    tds_ext_info: { domain: upstream.url, method: 'GET', path: '/me', ext_info: { headers: { Authorization: 'token ${principal:gh}' } } },
  };
  assert.equal((await replicaA.admin('PUT', '/admin/tds/gh', tool)).status, 200);
  assert.equal((await replicaA.admin('PUT', '/admin/ids/etcd-creds', { name: 'etcd-creds', tool_ids: ['gh'] })).status, 200);
});

after(async () => {
  await Promise.all([replicaA?.stop(), replicaB?.stop()]);
  await Promise.all([etcd?.close(), upstream?.close()]);
});

/** Calls the tool on `gateway` as alice; resolves with the Authorization header the upstream got, or the tool error. */
async function authorizationSentBy(gateway: TestGateway): Promise<string> {
  const { client } = await connectModern(`${gateway.url}/mcp/etcd-creds`, ALICE);
  try {
    upstream.hits.length = 0;
    const result = await client.callTool({ name: 'gh', arguments: {} });
    if (result.isError === true) return `error: ${JSON.stringify(result.content)}`;
    return String(upstream.hits[0]?.headers.authorization);
  } finally {
    await client.close();
  }
}

/** Polls until replica B sends `expected` (the feed delivers within a fraction of a second). */
async function untilSent(gateway: TestGateway, expected: string): Promise<void> {
  let last = '';
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
    last = await authorizationSentBy(gateway);
    if (last === expected) return;
  }
  assert.fail(`replica never sent ${expected}; last: ${last}`);
}

test('a credential stored and rotated on one replica is sent by the other', async () => {
  assert.match(await authorizationSentBy(replicaB), /no credential \\"gh\\" stored for principal \\"alice\\"/);
  assert.equal((await replicaA.admin('PUT', '/admin/credentials/alice/gh', { value: FIRST })).status, 200);
  await untilSent(replicaB, `token ${FIRST}`);
  assert.equal((await replicaA.admin('PUT', '/admin/credentials/alice/gh', { value: ROTATED })).status, 200);
  await untilSent(replicaB, `token ${ROTATED}`);
  assert.equal(await authorizationSentBy(replicaA), `token ${ROTATED}`);

  // etcd holds the record and its history entries, all encrypted.
  const stored = await etcd.get(PREFIX);
  assert.ok(stored.some((entry) => entry.key.endsWith('/credential/alice/gh')));
  const everything = JSON.stringify(stored);
  assert.ok(!everything.includes(FIRST) && !everything.includes(ROTATED));

  assert.equal((await replicaB.admin('DELETE', '/admin/credentials/alice/gh')).status, 200);
  for (const deadline = Date.now() + 5000; ; await sleep(100)) {
    const sent = await authorizationSentBy(replicaA);
    if (sent.startsWith('error:')) break;
    assert.ok(Date.now() < deadline, 'the delete reached replica A');
  }
});
