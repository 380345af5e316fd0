/**
 * Several gateway processes on one real etcd: a write through one replica reaches the
 * other and its connected clients within a second; an etcd outage loses nothing and resurrects
 * nothing; a gateway started before etcd is alive but not ready until etcd comes; a hand-written
 * bad value is logged and ignored; If-Match races have one winner. Never skipped without etcd.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcdServer, createEtcdServer, type EtcdServer } from '@dynmcp/testing';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';
import { connectModern, watchToolChanges } from '../test-support/mcp-clients.js';

const KEY = 'etcd-replicas-admin-key';
const AUTH = { authorization: `Bearer ${KEY}` };
const PREFIX = `/dynmcp-replicas-${process.pid}`;
const INVALID_LOGGED = 'invalid definition in store ignored; last good version kept';

let etcd: EtcdServer;
const etcds: EtcdServer[] = [];
const gateways: GatewayProcess[] = [];
let a: string;
let b: string;
let replicaA: GatewayProcess;
let replicaB: GatewayProcess;

function startReplica(endpoint: string, env: Record<string, string> = {}): GatewayProcess {
  const gateway = startGatewayProcess({
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: KEY,
    DYNMCP_DATASOURCE: 'etcd',
    DYNMCP_ETCD_ENDPOINTS: endpoint,
    DYNMCP_ETCD_PREFIX: PREFIX,
    // The harness's etcd allows pings every 500 ms; 1 s keepalive notices a dead etcd quickly.
    DYNMCP_ETCD_KEEPALIVE_MS: '1000',
    DYNMCP_STARTUP_WAIT_MS: '500',
    DYNMCP_SHUTDOWN_GRACE_MS: '1000',
    DYNMCP_LOG_LEVEL: 'info',
    ...env,
  });
  gateways.push(gateway);
  return gateway;
}

before(async () => {
  etcd = await startEtcdServer();
  etcds.push(etcd);
  replicaA = startReplica(etcd.endpoint);
  replicaB = startReplica(etcd.endpoint);
  [a, b] = await Promise.all([replicaA.url, replicaB.url]);
  await Promise.all([until('A ready', () => ready(a)), until('B ready', () => ready(b))]);
});

after(async () => {
  await Promise.all(gateways.map((gateway) => gateway.stop(2000)));
  await Promise.all(etcds.map((server) => server.close()));
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(25);
  }
}

async function admin(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

async function ready(base: string): Promise<boolean> {
  return (await fetch(`${base}/readyz`)).status === 200;
}

function tool(id: string, description = `tool ${id}`) {
  return {
    name: id.replace(/-/g, '_'),
    description,
    input_schema: { type: 'object' },
    tds_ext_info: { domain: 'https://api.example.com', method: 'GET', path: `/${id}`, required_params: {}, ext_info: {} },
  };
}

/** Tools served by `base` for `instance`, name → description, through a fresh 2026-era client. */
async function served(base: string, instance: string): Promise<Record<string, string | undefined>> {
  const { client } = await connectModern(`${base}/mcp/${instance}`, AUTH);
  try {
    const { tools } = await client.listTools();
    return Object.fromEntries(tools.map((t) => [t.name, t.description]).sort());
  } finally {
    await client.close();
  }
}

async function putOk(base: string, path: string, body: unknown) {
  const response = await admin(base, 'PUT', path, body);
  assert.equal(response.status, 200, `PUT ${path}: ${JSON.stringify(response.body)}`);
  return response;
}

test('a write through replica A is in replica B\u2019s tools/list within 1 s, and B\u2019s clients are told', async (t) => {
  await putOk(a, '/admin/tds/live-1', tool('live-1'));
  await putOk(a, '/admin/ids/live', { name: 'live', tool_ids: ['live-1'] });
  await until('B serves the instance', async () => 'live_1' in (await served(b, 'live').catch(() => ({}))));

  const watch = await watchToolChanges(`${b}/mcp/live`, AUTH);
  const { legacy, counts } = watch;
  try {
    await putOk(a, '/admin/tds/live-2', tool('live-2'));
    await putOk(a, '/admin/ids/live', { name: 'live', tool_ids: ['live-1', 'live-2'] });
    const tookMs = await until('B lists the new tool', async () =>
      (await legacy.client.listTools()).tools.some((t) => t.name === 'live_2'),
    );
    assert.ok(tookMs <= 1000, `B saw A's write after ${tookMs} ms`);
    t.diagnostic(`B listed A's write ${tookMs} ms after A answered`);
    await until('both clients of B were notified', () => counts.legacy >= 1 && counts.modern >= 1, 3000);
  } finally {
    await watch.close();
  }
});

test('etcd killed and restarted around pending writes: both replicas equal etcd, nothing lost or resurrected', async () => {
  for (const id of ['k1', 'k2', 'k3']) await putOk(a, `/admin/tds/${id}`, tool(id));
  await putOk(b, '/admin/ids/outage', { name: 'outage', tool_ids: ['k1', 'k2', 'k3'] });
  await until('both replicas serve the instance', async () =>
    Object.keys(await served(a, 'outage')).length === 3 && Object.keys(await served(b, 'outage')).length === 3,
  );

  await etcd.kill();
  for (const base of [a, b]) {
    await until('the outage is noticed', async () => !(await ready(base)), 5000);
    const readyz = await fetch(`${base}/readyz`);
    const body = (await readyz.json()) as { status: string; reason?: string; stale_ms?: number };
    assert.equal(readyz.status, 503);
    assert.equal(body.status, 'not_ready');
    assert.equal(typeof body.reason, 'string');
    assert.equal(typeof body.stale_ms, 'number');
  }
  // Admin writes fail fast with 503 and write nothing.
  const started = Date.now();
  const put = await admin(a, 'PUT', '/admin/tds/during-outage', tool('during-outage'));
  const del = await admin(b, 'DELETE', '/admin/tds/k3');
  assert.ok(Date.now() - started < 2000, `503s took ${Date.now() - started} ms`);
  assert.equal(put.status, 503);
  assert.equal(put.body.error_code, 'STORE_UNAVAILABLE');
  assert.equal(del.status, 503);
  // The last good configuration is still served.
  assert.deepEqual(Object.keys(await served(b, 'outage')), ['k1', 'k2', 'k3']);

  await etcd.start();
  // Straight into etcd, right after the restart, while the replicas may still be reconnecting.
  await etcd.put(`${PREFIX}/tds/k4`, JSON.stringify({ id: 'k4', ...tool('k4') }));
  await etcd.put(`${PREFIX}/tds/k2`, JSON.stringify({ id: 'k2', ...tool('k2', 'changed in etcd') }));
  await etcd.del(`${PREFIX}/tds/k1`);
  await etcd.put(`${PREFIX}/ids/outage`, JSON.stringify({ id: 'outage', name: 'outage', tool_ids: ['k1', 'k2', 'k3', 'k4'] }));

  const expected = { k2: 'changed in etcd', k3: 'tool k3', k4: 'tool k4' };
  for (const base of [a, b]) {
    await until('the replica equals etcd', async () => (await ready(base)) && JSON.stringify(await served(base, 'outage')) === JSON.stringify(expected), 20_000);
  }
  const inEtcd = (await etcd.get(`${PREFIX}/tds/`)).map((kv) => kv.key.slice(`${PREFIX}/tds/`.length)).sort();
  assert.ok(!inEtcd.includes('during-outage') && !inEtcd.includes('k1'), 'no write from the outage landed, the delete held');
  for (const base of [a, b]) {
    const listed = await admin(base, 'GET', '/admin/tds');
    assert.equal(listed.status, 200);
    const ids = (listed.body.data as Array<{ id: string }>).map((t) => t.id).sort();
    assert.deepEqual(ids, inEtcd, 'the admin list equals etcd');
    assert.equal((await admin(base, 'GET', '/admin/tds/k1')).status, 404, 'k1 is not resurrected');
  }
});

test('a gateway started before etcd is alive but not ready, and becomes ready when etcd starts', async () => {
  const late = await createEtcdServer();
  etcds.push(late);
  const gateway = startReplica(late.endpoint);
  const url = await gateway.url;
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const readyz = await fetch(`${url}/readyz`);
  assert.equal(readyz.status, 503);
  const body = (await readyz.json()) as { status: string; reason?: string; stale_ms?: number; loaded?: boolean };
  assert.equal(body.status, 'not_ready');
  assert.equal(body.loaded, false);
  assert.equal(typeof body.reason, 'string');
  assert.equal(typeof body.stale_ms, 'number');
  const started = Date.now();
  assert.equal((await admin(url, 'GET', '/admin/tds')).status, 503);
  assert.ok(Date.now() - started < 2000);

  await late.start();
  await until('ready after etcd started', () => ready(url), 20_000);
  await putOk(url, '/admin/tds/late-1', tool('late-1'));
  assert.equal(await gateway.stop(5000), 0, 'a graceful stop closes the etcd client and exits 0');
  assert.ok(gateway.lines.some((line) => line.message === 'stopped'));
});

test('a value written by hand that is not a valid definition is logged and ignored; the last good version is served', async () => {
  await putOk(a, '/admin/tds/c1', tool('c1', 'good version'));
  await putOk(a, '/admin/ids/corrupt', { name: 'corrupt', tool_ids: ['c1'] });
  await until('B serves the good version', async () => (await served(b, 'corrupt').catch(() => ({}) as Record<string, string | undefined>))['c1'] === 'good version');

  const invalidLogged = (gateway: GatewayProcess, id: string) =>
    gateway.lines.filter((line) => line.message === INVALID_LOGGED && line.id === id).length;
  const before = [invalidLogged(replicaA, 'c1'), invalidLogged(replicaB, 'c1')];
  await etcd.put(`${PREFIX}/tds/c1`, '{not json at all');
  await until('both replicas logged the bad value', () => invalidLogged(replicaA, 'c1') > before[0]! && invalidLogged(replicaB, 'c1') > before[1]!);
  for (const base of [a, b]) {
    assert.deepEqual(await served(base, 'corrupt'), { c1: 'good version' });
    const readyz = (await (await fetch(`${base}/readyz`)).json()) as { invalid_records: number };
    assert.ok(readyz.invalid_records >= 1);
  }
  // Valid JSON that is not a tool definition is refused the same way.
  await etcd.put(`${PREFIX}/tds/c1`, JSON.stringify({ name: 42 }));
  await until('logged again', () => invalidLogged(replicaB, 'c1') > before[1]! + 1);
  assert.deepEqual(await served(b, 'corrupt'), { c1: 'good version' });

  await putOk(a, '/admin/tds/c1', tool('c1', 'repaired'));
  await until('the repair is served by B', async () => (await served(b, 'corrupt'))['c1'] === 'repaired');
});

test('two concurrent updates with the same If-Match, one through each replica: one 200, one 412', async () => {
  const created = await putOk(a, '/admin/tds/race', tool('race'));
  const etag = created.headers.get('etag');
  assert.ok(etag, 'a write answers with its revision as ETag');
  const results = await Promise.all([
    admin(a, 'PUT', '/admin/tds/race', tool('race', 'from A'), { 'if-match': etag }),
    admin(b, 'PUT', '/admin/tds/race', tool('race', 'from B'), { 'if-match': etag }),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 412]);
  const loser = results.find((r) => r.status === 412)!;
  assert.equal(loser.body.error_code, 'PRECONDITION_FAILED');
  const winner = results.find((r) => r.status === 200)!;
  const stored = await admin(b, 'GET', '/admin/tds/race');
  assert.equal(stored.headers.get('etag'), winner.headers.get('etag'));
});
