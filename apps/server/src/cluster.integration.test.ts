/**
 * `server.workers`: the real dynmcp-server binary with two worker processes on one port, on a
 * shared SQLite file and on a real etcd. Both workers serve (each answers `GET /admin/status` as
 * its own replica), a change written through the admin API reaches both, a 2025-era session opened
 * on one is served by the other, `GET /metrics` sums the workers, a killed worker is replaced,
 * SIGTERM stops the whole group within its deadline and leaves no process behind (nor does a
 * primary killed outright), and a worker that cannot start stops the group.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEtcdServer, startUpstream, type EtcdServer, type TestUpstream } from '@dynmcp/testing';
import { freshRequest, modernRequest, until } from './test-support/fresh-connection.js';
import { startGatewayProcess, type GatewayProcess } from './test-support/gateway-process.js';

const KEY = 'cluster-test-admin-key';
const AUTH = { authorization: `Bearer ${KEY}` };
const GRACE_MS = 1000;
// main.ts allows workers server.shutdownGraceMs plus 5 s before the primary kills them.
const DEADLINE_MS = GRACE_MS + 5000;

let upstream: TestUpstream;
let etcd: EtcdServer | undefined;
const dirs: string[] = [];
const gateways: GatewayProcess[] = [];

before(async () => {
  upstream = await startUpstream();
});

after(async () => {
  await Promise.all(gateways.map((gateway) => gateway.stop(DEADLINE_MS + 2000)));
  await upstream.close();
  await etcd?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function startCluster(env: Record<string, string>): GatewayProcess {
  const gateway = startGatewayProcess({
    DYNMCP_WORKERS: '2',
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: KEY,
    DYNMCP_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    DYNMCP_METRICS_PUBLIC: 'true',
    DYNMCP_STARTUP_WAIT_MS: '500',
    DYNMCP_LOG_LEVEL: 'info',
    ...env,
  });
  gateways.push(gateway);
  return gateway;
}

const started = (gateway: GatewayProcess) =>
  gateway.lines.filter((line) => line.message === 'worker started').map((line) => line.workerPid as number);

/** The parent pid of `pid`, from /proc. */
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * The pids of the workers that answered `GET /admin/status` over `rounds` fresh connections (the
 * answering replica's entry names its pid), with the last listing.
 */
async function answeringPids(base: string, rounds = 6): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < rounds; i += 1) {
    const { status, body } = await freshRequest(`${base}/admin/status`, { headers: AUTH });
    assert.equal(status, 200, JSON.stringify(body));
    const self = body.data.replicas.find((replica: { id: string }) => replica.id === body.data.replica_id);
    const pid = /\(pid (\d+)\)/.exec(self.host)?.[1];
    assert.ok(pid, `the status names the answering process: ${self.host}`);
    pids.add(Number(pid));
  }
  return pids;
}

function tool(name: string) {
  return {
    name,
    description: `tool ${name}`,
    input_schema: { type: 'object' },
    tds_ext_info: { domain: upstream.url, method: 'GET', path: `/${name}`, required_params: {}, ext_info: {} },
  };
}

async function put(base: string, path: string, body: unknown): Promise<number> {
  const response = await freshRequest(`${base}${path}`, { method: 'PUT', headers: AUTH, body });
  assert.equal(response.status, 200, `PUT ${path}: ${JSON.stringify(response.body)}`);
  return Number(String(response.headers.etag).replaceAll('"', ''));
}

/** The tool names `tools/list` answers with, over fresh connections (so from every worker in turn). */
async function listedEverywhere(base: string, instance: string, rounds = 4): Promise<string[][]> {
  const lists: string[][] = [];
  for (let i = 0; i < rounds; i += 1) {
    const { status, body } = await modernRequest(base, instance, 'tools/list', {}, AUTH);
    lists.push(status === 200 && body.result ? body.result.tools.map((t: { name: string }) => t.name).sort() : [`status ${status}`]);
  }
  return lists;
}

/** Sum of the series of `name` in a Prometheus exposition whose labels contain every `labels` pair. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('workers=2 on SQLite: both serve, a change reaches both, metrics sum them, a killed worker is replaced, SIGTERM stops all', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-cluster-'));
  dirs.push(dir);
  const gateway = startCluster({ DYNMCP_SQLITE_PATH: join(dir, 'dynmcp.sqlite'), DYNMCP_POLL_INTERVAL_MS: '100' });
  const base = await gateway.url;
  await until('both workers started', () => started(gateway).length === 2, 15_000);
  const primary = gateway.child.pid as number;
  const workers = started(gateway);
  for (const pid of workers) assert.equal(parentOf(pid), primary, 'every worker is a child of the primary');

  // Connections are handed to the workers in turn: both answer, each as its own replica.
  assert.deepEqual([...(await answeringPids(base))].sort(), [...workers].sort());

  // A change applied through whichever worker takes the write is served by both.
  await put(base, '/admin/tds/cl-a', tool('cl_a'));
  const revision = await put(base, '/admin/ids/cl', { name: 'cl', tool_ids: ['cl-a'] });
  await until('every worker applied the write', async () => {
    const { body } = await freshRequest(`${base}/admin/status`, { headers: AUTH });
    const mine = body.data.replicas.filter((r: { host: string }) => workers.some((pid) => r.host.includes(`(pid ${pid})`)));
    return mine.length === 2 && mine.every((r: { applied_revision: number }) => r.applied_revision >= revision);
  }, 15_000);
  assert.deepEqual(await listedEverywhere(base, 'cl'), [['cl_a'], ['cl_a'], ['cl_a'], ['cl_a']]);

  // A 2025-era session opened on one worker is served by the other: the primary gave both one
  // session key (no mcp.sessionSecret is configured here).
  const legacy = { accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...AUTH };
  const init = await freshRequest(`${base}/mcp/cl`, {
    method: 'POST',
    headers: legacy,
    body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
  });
  assert.equal(init.status, 200, JSON.stringify(init.body));
  const session = String(init.headers['mcp-session-id']);
  assert.notEqual(session, 'undefined', 'the instance keeps sessions');
  const inSession = { ...legacy, 'mcp-session-id': session };
  await freshRequest(`${base}/mcp/cl`, { method: 'POST', headers: inSession, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
  for (let i = 0; i < 4; i += 1) {
    const list = await freshRequest(`${base}/mcp/cl`, { method: 'POST', headers: inSession, body: { jsonrpc: '2.0', id: 2 + i, method: 'tools/list' } });
    assert.equal(list.status, 200, `request ${i} of the session: ${JSON.stringify(list.body)}`);
    assert.match(JSON.stringify(list.body), /cl_a/);
  }

  // Four calls over four connections: two per worker; /metrics reports the group, so all four.
  for (let i = 0; i < 4; i += 1) {
    const { status, body } = await modernRequest(base, 'cl', 'tools/call', { name: 'cl_a', arguments: {} }, AUTH);
    assert.equal(status, 200);
    assert.equal(body.result.isError, undefined, JSON.stringify(body));
  }
  const exposition = await freshRequest(`${base}/metrics`);
  assert.equal(exposition.status, 200);
  assert.equal(metric(exposition.body, 'dynmcp_tool_calls_total', { instance: 'cl', tool: 'cl_a', outcome: 'ok' }), 4);
  assert.equal(metric(exposition.body, 'dynmcp_workers'), 2);
  assert.equal(metric(exposition.body, 'dynmcp_config_revision') >= revision, true);

  // A worker killed outright is replaced by a new one, which loads the definitions from the store.
  const [victim, survivor] = workers as [number, number];
  process.kill(victim, 'SIGKILL');
  await until('a new worker started', () => started(gateway).length === 3, 15_000);
  const replacement = started(gateway)[2] as number;
  assert.notEqual(replacement, victim);
  assert.equal(parentOf(replacement), primary);
  const died = gateway.lines.find((line) => line.message === 'worker exited unexpectedly; starting another');
  assert.equal(died?.workerPid, victim);
  assert.equal(died?.signal, 'SIGKILL');
  await until('the new worker answers', async () => (await answeringPids(base, 4)).has(replacement), 10_000);
  assert.deepEqual([...(await answeringPids(base))].sort(), [survivor, replacement].sort());
  assert.deepEqual(await listedEverywhere(base, 'cl'), [['cl_a'], ['cl_a'], ['cl_a'], ['cl_a']]);
  const restarts = await freshRequest(`${base}/metrics`);
  assert.equal(metric(restarts.body, 'dynmcp_worker_restarts_total'), 1);

  // SIGTERM to the primary: every worker stops gracefully, then the primary; nothing is left.
  const stopStarted = Date.now();
  const code = await gateway.stop(DEADLINE_MS + 2000);
  const tookMs = Date.now() - stopStarted;
  t.diagnostic(`group stopped in ${tookMs} ms`);
  assert.equal(code, 0);
  assert.ok(tookMs < DEADLINE_MS, `stopped within the deadline (${tookMs} ms)`);
  assert.equal(gateway.lines.filter((line) => line.message === 'worker stopped').length, 2);
  for (const pid of [primary, survivor, replacement]) assert.equal(alive(pid), false, `process ${pid} is gone`);
});

test('workers=2 on etcd: both serve, a change through the admin API reaches both; a killed primary leaves no worker', async () => {
  etcd = await startEtcdServer();
  const gateway = startCluster({
    DYNMCP_DATASOURCE: 'etcd',
    DYNMCP_ETCD_ENDPOINTS: etcd.endpoint,
    DYNMCP_ETCD_PREFIX: `/dynmcp-cluster-${process.pid}`,
    DYNMCP_ETCD_KEEPALIVE_MS: '1000',
  });
  const base = await gateway.url;
  await until('both workers started', () => started(gateway).length === 2, 15_000);
  const workers = started(gateway);
  assert.deepEqual([...(await answeringPids(base))].sort(), [...workers].sort());

  await put(base, '/admin/tds/ce-a', tool('ce_a'));
  await put(base, '/admin/ids/ce', { name: 'ce', tool_ids: ['ce-a'] });
  // A write is answered once the worker that took it applied it; the other follows its watch.
  await until('both workers serve the change', async () => (await listedEverywhere(base, 'ce')).every((list) => list.join() === 'ce_a'), 15_000);
  await put(base, '/admin/tds/ce-b', tool('ce_b'));
  await put(base, '/admin/ids/ce', { name: 'ce', tool_ids: ['ce-a', 'ce-b'] });
  await until('both workers serve the second change', async () =>
    (await listedEverywhere(base, 'ce')).every((list) => list.join() === 'ce_a,ce_b'), 15_000,
  );
  // The primary killed outright: its workers notice their channel to it close and exit at once.
  gateway.child.kill('SIGKILL');
  await gateway.exited;
  await until('the workers of a killed primary exit', () => workers.every((pid) => !alive(pid)), 5000);
});

test('a worker that cannot start (its port is taken) stops the group with exit code 1', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'dynmcp-cluster-'));
    dirs.push(dir);
    const gateway = startCluster({ DYNMCP_PORT: String(port), DYNMCP_SQLITE_PATH: join(dir, 'dynmcp.sqlite') });
    await assert.rejects(gateway.url);
    assert.equal(await gateway.exited, 1);
    assert.ok(gateway.lines.some((line) => line.message === 'worker failed to start; stopping'));
  } finally {
    blocker.close();
  }
});
