/**
 * GET /admin/status on real stores: two gateway processes on one etcd and on one MariaDB list each
 * other, see each other's applied revision move after a write, and lose a replica that is frozen
 * (SIGSTOP) or killed (SIGKILL) within its entry's TTL; a graceful stop removes the entry at once.
 * A single SQLite replica lists itself with lag 0; a datasource without announcements lists only
 * this replica, with a note. Never skipped without etcd or MariaDB.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLiveDefinitions, createSchemaCompiler } from '@dynmcp/common';
import { createSqlDataSource } from '@dynmcp/datasources';
import { silentLogger } from '@dynmcp/plugin';
import { startEtcdServer, startMariaDb, type EtcdServer, type MariaDbServer } from '@dynmcp/testing';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';
import { startTestGateway, TEST_KEY } from '../test-support/test-gateway.js';
import { createReplicaAnnouncer, createReplicaIdentity } from './replica-announcer.js';
import { replicaStatus, type GatewayStatus } from './replica-status.js';

// Short entries so the expiry tests take seconds: etcd counts lease TTLs in whole seconds, and
// raises anything below its minimum (1.5 s with its default election timeout) to 2 s.
const HEARTBEAT_MS = 500;
const TTL_MS = 2000;
// An entry whose replica stopped renewing it is gone within the TTL after its last renewal, plus
// the store's own sweep (etcd checks lease expiry every 500 ms) and one of our polls.
const GONE_WITHIN_MS = HEARTBEAT_MS + TTL_MS + 1500;

let etcd: EtcdServer;
let db: MariaDbServer;
const processes: GatewayProcess[] = [];

before(async () => {
  [etcd, db] = await Promise.all([startEtcdServer(), startMariaDb()]);
});

after(async () => {
  for (const gateway of processes) if (gateway.child.exitCode === null) gateway.child.kill('SIGCONT');
  await Promise.all(processes.map((gateway) => gateway.stop(2000)));
  await etcd?.close();
  await db?.cleanup();
});

function startReplica(env: Record<string, string>): GatewayProcess {
  const gateway = startGatewayProcess({
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: TEST_KEY,
    DYNMCP_SHUTDOWN_GRACE_MS: '500',
    DYNMCP_REPLICA_HEARTBEAT_MS: String(HEARTBEAT_MS),
    DYNMCP_REPLICA_TTL_MS: String(TTL_MS),
    ...env,
  });
  processes.push(gateway);
  return gateway;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<{ value: T; tookMs: number }> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return { value, tookMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(50);
  }
}

async function status(base: string): Promise<GatewayStatus> {
  const response = await fetch(`${base}/admin/status`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
  const body = (await response.json()) as { code: number; data: GatewayStatus };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.data;
}

async function put(base: string, path: string, value: unknown): Promise<number> {
  const response = await fetch(`${base}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(value),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return Number(response.headers.get('etag')?.replace(/"/g, ''));
}

const tool = (id: string) => ({
  name: id,
  description: `tool ${id}`,
  input_schema: { type: 'object' },
  tds_ext_info: { domain: 'https://api.example.com', method: 'GET', path: `/${id}`, required_params: {}, ext_info: {} },
});

const ids = (data: GatewayStatus) => data.replicas.map((replica) => replica.id);

/** The whole story on one store: two replicas, a write, a frozen one, a killed one, a stopped one. */
async function replicaStory(t: { diagnostic(message: string): void }, env: Record<string, string>): Promise<void> {
  const replicaA = startReplica(env);
  const replicaB = startReplica(env);
  const [a, b] = await Promise.all([replicaA.url, replicaB.url]);
  const [selfA, selfB] = [(await status(a)).replica_id, (await status(b)).replica_id];
  assert.notEqual(selfA, selfB, 'every process start is a new replica id');

  // Both appear in each other's status.
  for (const base of [a, b]) {
    const { value } = await until('both replicas are listed', async () => {
      const data = await status(base);
      return ids(data).includes(selfA) && ids(data).includes(selfB) && data;
    });
    for (const replica of value.replicas) {
      assert.match(replica.host, /\(pid \d+\)$/);
      assert.match(replica.version, /^\d+\.\d+\.\d+/);
      assert.ok(!Number.isNaN(Date.parse(replica.started_at)));
      assert.equal(typeof replica.applied_revision, 'number');
    }
  }

  // A write through A: both show it applied, lag 0, on both replicas' status.
  await put(a, '/admin/tds/status-1', tool('status_1'));
  const revision = await put(a, '/admin/ids/status', { name: 'status', tool_ids: ['status-1'] });
  for (const base of [a, b]) {
    const { tookMs } = await until(
      'both replicas show the write applied',
      async () => {
        const data = await status(base);
        const listed = data.replicas.filter((replica) => replica.id === selfA || replica.id === selfB);
        return (
          listed.length === 2 &&
          (data.store_revision ?? 0) >= revision &&
          listed.every((replica) => replica.applied_revision >= revision && replica.lag === 0 && replica.connected)
        );
      },
      3000,
    );
    t.diagnostic(`the write was shown applied on both replicas ${tookMs} ms after A answered`);
  }

  // B frozen: its entry expires, A stops listing it; B thawed announces itself again.
  replicaB.child.kill('SIGSTOP');
  const frozen = await until('A no longer lists the frozen B', async () => !ids(await status(a)).includes(selfB), GONE_WITHIN_MS);
  t.diagnostic(`a frozen replica left the listing after ${frozen.tookMs} ms`);
  replicaB.child.kill('SIGCONT');
  await until('A lists B again once B runs', async () => ids(await status(a)).includes(selfB), GONE_WITHIN_MS);

  // B killed: nothing removes its entry but the TTL.
  replicaB.child.kill('SIGKILL');
  await replicaB.exited;
  const killed = await until('A no longer lists the killed B', async () => !ids(await status(a)).includes(selfB), GONE_WITHIN_MS);
  t.diagnostic(`a killed replica left the listing after ${killed.tookMs} ms`);

  // C stopped gracefully: its entry is removed on the way out, well within the TTL.
  const replicaC = startReplica(env);
  const c = await replicaC.url;
  const selfC = (await status(c)).replica_id;
  await until('A lists C', async () => ids(await status(a)).includes(selfC));
  assert.equal(await replicaC.stop(5000), 0);
  const stopped = Date.now();
  assert.ok(!ids(await status(a)).includes(selfC), 'a gracefully stopped replica is gone at once');
  assert.ok(Date.now() - stopped < TTL_MS);
  assert.deepEqual(ids(await status(a)), [selfA]);
}

test('etcd: two replicas list each other, follow a write, and lose a frozen, killed or stopped one', async (t) => {
  await replicaStory(t, {
    DYNMCP_DATASOURCE: 'etcd',
    DYNMCP_ETCD_ENDPOINTS: etcd.endpoint,
    DYNMCP_ETCD_PREFIX: `/dynmcp-status-${process.pid}`,
    DYNMCP_ETCD_KEEPALIVE_MS: '1000',
  });
  // Announcements stay out of the definitions' range: nothing but definitions under the prefix.
  const keys = (await etcd.get(`/dynmcp-status-${process.pid}/`)).map((kv) => kv.key);
  assert.ok(keys.every((key) => /\/(tds|ids)\//.test(key)), keys.join(', '));
  // Only A's entry is left: B's went with its lease, C's with the lease C revoked on stopping.
  assert.equal((await etcd.get(`/dynmcp-status-${process.pid}.replicas/`)).length, 1);
});

test('MariaDB: two replicas list each other, follow a write, and lose a frozen, killed or stopped one', async (t) => {
  const url = await db.createDatabase();
  await replicaStory(t, { DYNMCP_DATASOURCE: 'mysql', DYNMCP_MYSQL_URL: url, DYNMCP_POLL_INTERVAL_MS: '100' });
  // Announcements take no revision: the counter moved only for the two definitions written.
  const database = new URL(url).pathname.slice(1);
  const [[revision]] = (await db.query(`SELECT revision FROM ${database}.dynmcp_revision WHERE id = 1`)) as [[string]];
  assert.equal(revision, '2');
  // Expired rows are not only hidden but deleted, by the next heartbeat of a live replica.
  await until('only A\u2019s row is left', async () => {
    const [[rows]] = (await db.query(`SELECT COUNT(*) FROM ${database}.dynmcp_replicas`)) as [[string]];
    return rows === '1';
  });
});

test('SQLite: a single replica lists itself with lag 0, before and after a write', async () => {
  const gateway = await startTestGateway({ replicas: { heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS } });
  try {
    const first = (await gateway.admin('GET', '/admin/status')).body.data as GatewayStatus;
    assert.equal(first.replicas.length, 1);
    assert.equal(first.replicas[0]?.id, first.replica_id);
    assert.equal(first.replicas[0]?.lag, 0);
    assert.equal(first.store_revision, 0);
    assert.equal(first.note, undefined);

    const written = await gateway.admin('PUT', '/admin/tds/solo', tool('solo'));
    assert.equal(written.status, 200);
    const second = (await gateway.admin('GET', '/admin/status')).body.data as GatewayStatus;
    assert.equal(second.store_revision, 1);
    assert.deepEqual(
      second.replicas.map((replica) => [replica.applied_revision, replica.lag, replica.connected]),
      [[1, 0, true]],
    );
    assert.equal((await gateway.admin('POST', '/admin/status')).status, 405);
    const anonymous = await fetch(`${gateway.url}/admin/status`);
    assert.equal(anonymous.status, 401);
  } finally {
    await gateway.stop();
  }
});

test('a datasource without announce() and replicas() lists only this replica, with a note', async () => {
  const gateway = await startTestGateway();
  const store = createSqlDataSource({ client: 'sqlite', filename: `${gateway.dataDir}/dynmcp.sqlite`, logger: silentLogger });
  // A plugin written for an older plugin API: the same store, without the optional methods.
  const olderPlugin = { ...store, announce: undefined, replicas: undefined };
  const definitions = createLiveDefinitions({ datasource: olderPlugin, compiler: createSchemaCompiler(), logger: silentLogger });
  const announcer = createReplicaAnnouncer({
    datasource: olderPlugin,
    definitions,
    identity: createReplicaIdentity('9.9.9'),
    heartbeatMs: HEARTBEAT_MS,
    ttlMs: TTL_MS,
    logger: silentLogger,
  });
  try {
    await olderPlugin.open();
    await definitions.start();
    const data = await replicaStatus(olderPlugin, announcer);
    assert.equal(data.store_revision, null);
    assert.equal(data.replicas.length, 1);
    assert.deepEqual([data.replicas[0]?.version, data.replicas[0]?.lag], ['9.9.9', null]);
    assert.match(data.note ?? '', /keeps no replica announcements.*only this replica is listed/);
    assert.throws(
      () => createReplicaAnnouncer({ datasource: store, definitions, identity: createReplicaIdentity('1.0.0'), heartbeatMs: 5000, ttlMs: 5000, logger: silentLogger }),
      /replicas\.ttlMs \(5000\) must be more than replicas\.heartbeatMs/,
    );
  } finally {
    await announcer.close();
    await definitions.close();
    await store.close();
    await gateway.stop();
  }
});
