/**
 * A network partition between hosts, in Linux network namespaces (needs root, as CI runs it):
 * etcd on one host, three gateway replicas on three others, HAProxy with
 * `config/load-balancers/haproxy.cfg` (round robin, health checks on `/readyz`) on a fifth.
 * Every replica reaches etcd over a "store" network and HAProxy over a "front" network; the
 * test cuts one replica's store link. That replica keeps serving its last good definitions but
 * reports not ready within a bounded time, HAProxy routes around it, and a change written through
 * another replica meanwhile (a new tool, a changed one, a deleted one) reaches it once the link
 * is back: nothing lost, nothing resurrected. Addresses come from 10.213.0.0/16 and exist only
 * inside the test's namespaces; the test process reaches HAProxy through Unix sockets. Every
 * namespace (and with it every link) is deleted when the test ends, failed or not.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { freshRequest, modernRequest, until, type FreshResponse } from '../test-support/fresh-connection.js';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';

const HAPROXY_CFG = fileURLToPath(new URL('../../../../config/load-balancers/haproxy.cfg', import.meta.url));
const KEY = 'partition-test-admin-key';
const AUTH = { authorization: `Bearer ${KEY}` };
const TAG = `dmcp${process.pid % 100_000}`;
const NS = { etcd: `${TAG}e`, lb: `${TAG}lb`, replicas: [1, 2, 3].map((n) => `${TAG}r${n}`) };
const ETCD_ADDRESS = '10.213.0.1';
const LB_ADDRESS = '10.213.1.1';
const storeAddress = (n: number) => `10.213.0.${10 + n}`;
const frontAddress = (n: number) => `10.213.1.${10 + n}`;
// The upstream of the test tools: HAProxy answers it itself, so the replicas have something to call.
const UPSTREAM = `http://${LB_ADDRESS}:9000`;
// etcd allows client pings every 500 ms; a 1 s keepalive notices the cut within about 3 s.
const KEEPALIVE_MS = 1000;

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-partition-'));
const lbSocket = join(dir, 'lb.sock');
const directSocket = (n: number) => join(dir, `r${n}.sock`);
const processes: ChildProcess[] = [];
const gateways: GatewayProcess[] = [];
let haproxyLog = '';

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr || result.error?.message}`);
}

/** Deletes the test's namespaces; their links and bridges go with them. Safe to call twice. */
function deleteNamespaces(): void {
  for (const ns of [NS.etcd, NS.lb, ...NS.replicas]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
}

function killAll(): void {
  for (const child of [...processes, ...gateways.map((gateway) => gateway.child)]) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

// If the test process dies without its `after` hook, leave no namespace and no process behind.
process.once('exit', () => {
  killAll();
  deleteNamespaces();
});

/**
 * Two networks: "store" (a bridge in etcd's namespace, etcd at .0.1, replica n at .0.1n) and
 * "front" (a bridge in HAProxy's namespace, HAProxy at .1.1, replica n at .1.1n). Each replica's
 * veth pair is created with both ends already in their namespaces, so nothing appears outside.
 */
function buildNetwork(): void {
  for (const ns of [NS.etcd, NS.lb, ...NS.replicas]) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  for (const [ns, bridge, address] of [
    [NS.etcd, 'brs', ETCD_ADDRESS],
    [NS.lb, 'brf', LB_ADDRESS],
  ] as const) {
    ip('-n', ns, 'link', 'add', bridge, 'type', 'bridge');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', bridge);
    ip('-n', ns, 'link', 'set', bridge, 'up');
  }
  NS.replicas.forEach((ns, index) => {
    const n = index + 1;
    for (const [side, hub, bridge, address] of [
      ['s', NS.etcd, 'brs', storeAddress(n)],
      ['f', NS.lb, 'brf', frontAddress(n)],
    ] as const) {
      ip('link', 'add', 'name', `${side}0`, 'netns', ns, 'type', 'veth', 'peer', 'name', `r${n}${side}`, 'netns', hub);
      ip('-n', hub, 'link', 'set', `r${n}${side}`, 'master', bridge, 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', `${side}0`);
      ip('-n', ns, 'link', 'set', `${side}0`, 'up');
    }
  });
}

function startEtcd(): ChildProcess {
  const peer = 'http://127.0.0.1:2380';
  const client = `http://${ETCD_ADDRESS}:2379`;
  const etcd = spawn(
    'ip',
    ['netns', 'exec', NS.etcd, 'etcd', '--data-dir', join(dir, 'etcd'), '--name', 'default', '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `default=${peer}`, '--grpc-keepalive-min-time', '500ms'],
    { stdio: 'ignore' },
  );
  processes.push(etcd);
  return etcd;
}

async function etcdHealthy(): Promise<boolean> {
  const result = spawnSync('ip', ['netns', 'exec', NS.etcd, 'etcdctl', `--endpoints=http://${ETCD_ADDRESS}:2379`, 'endpoint', 'health'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: 'ignore',
    timeout: 5000,
  });
  return result.status === 0;
}

/** HAProxy in the front namespace: the documented config, plus a test-only file of direct doors. */
function startHaproxy(): ChildProcess {
  const direct = [1, 2, 3]
    .map((n) => `frontend direct_r${n}\n    bind unix@${directSocket(n)}\n    default_backend direct_r${n}\nbackend direct_r${n}\n    server r${n} ${frontAddress(n)}:8080\n`)
    .join('');
  const upstream = `frontend test_upstream\n    bind ${LB_ADDRESS}:9000\n    http-request return status 200 content-type application/json string "{\\"ok\\":true}"\n`;
  writeFileSync(join(dir, 'direct.cfg'), direct + upstream);
  const haproxy = spawn('ip', ['netns', 'exec', NS.lb, 'haproxy', '-f', HAPROXY_CFG, '-f', join(dir, 'direct.cfg'), '-db'], {
    env: {
      PATH: process.env.PATH ?? '',
      DYNMCP_LB_BIND: `unix@${lbSocket}`,
      DYNMCP_GW1: `${frontAddress(1)}:8080`,
      DYNMCP_GW2: `${frontAddress(2)}:8080`,
      DYNMCP_GW3: `${frontAddress(3)}:8080`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  haproxy.stdout!.on('data', (chunk: Buffer) => (haproxyLog += chunk.toString()));
  haproxy.stderr!.on('data', (chunk: Buffer) => (haproxyLog += chunk.toString()));
  processes.push(haproxy);
  return haproxy;
}

function startReplica(n: number): GatewayProcess {
  const gateway = startGatewayProcess(
    {
      DYNMCP_HOST: '0.0.0.0',
      DYNMCP_PORT: '8080',
      DYNMCP_API_KEYS: KEY,
      DYNMCP_DATASOURCE: 'etcd',
      DYNMCP_ETCD_ENDPOINTS: `http://${ETCD_ADDRESS}:2379`,
      DYNMCP_ETCD_PREFIX: '/dynmcp-partition',
      DYNMCP_ETCD_KEEPALIVE_MS: String(KEEPALIVE_MS),
      DYNMCP_TRUSTED_PROXIES: LB_ADDRESS,
      DYNMCP_STARTUP_WAIT_MS: '500',
      DYNMCP_SHUTDOWN_GRACE_MS: '500',
    },
    { prefix: ['ip', 'netns', 'exec', NS.replicas[n - 1] as string] },
  );
  gateways.push(gateway);
  return gateway;
}

/** Through HAProxy's round robin (`via: 'lb'`), or straight to replica n. */
const socketOf = (via: 'lb' | number) => (via === 'lb' ? lbSocket : directSocket(via));
const get = (via: 'lb' | number, path: string, headers: Record<string, string> = {}) =>
  freshRequest(`http://gateway${path}`, { socketPath: socketOf(via), headers });
const send = (via: 'lb' | number, method: string, path: string, body?: unknown) =>
  freshRequest(`http://gateway${path}`, { method, socketPath: socketOf(via), headers: AUTH, body, timeoutMs: 15_000 });

async function listed(via: 'lb' | number): Promise<Record<string, string>> {
  const response: FreshResponse = await modernRequest('http://gateway', 'part', 'tools/list', {}, AUTH, socketOf(via));
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return Object.fromEntries(response.body.result.tools.map((t: { name: string; description: string }) => [t.name, t.description]));
}

const replicaIdOf = async (via: 'lb' | number): Promise<string> => (await get(via, '/admin/status', AUTH)).body.data.replica_id;

/** The replicas that answered `rounds` requests through HAProxy. */
async function balanced(rounds: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < rounds; i += 1) {
    const answer = await get('lb', '/admin/status', AUTH);
    if (answer.status === 200) seen.add(answer.body.data.replica_id);
  }
  return seen;
}

function tool(name: string, description = `${name}, first version`) {
  return {
    name,
    description,
    input_schema: { type: 'object' },
    tds_ext_info: { domain: UPSTREAM, method: 'GET', path: `/${name}`, required_params: {}, ext_info: {} },
  };
}

async function write(via: 'lb' | number, method: string, path: string, body?: unknown): Promise<void> {
  const response = await send(via, method, path, body);
  assert.equal(response.status, 200, `${method} ${path}: ${JSON.stringify(response.body)}`);
}

before(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test builds network namespaces and needs root (CI runs the suite as root)');
  deleteNamespaces();
  buildNetwork();
  startEtcd();
  await until('etcd is healthy', etcdHealthy, 20_000);
  startHaproxy();
  const replicas = [1, 2, 3].map(startReplica);
  await Promise.all(replicas.map((replica) => replica.url));
  await until('every replica is ready', async () => {
    const answers = await Promise.all([1, 2, 3].map((n) => get(n, '/readyz').catch(() => undefined)));
    return answers.every((answer) => answer?.status === 200);
  }, 20_000);
  // Checks that failed while the replicas started took them out; two good ones put them back.
  await until('HAProxy sends traffic to every replica', async () => (await balanced(6)).size === 3, 10_000);
});

after(async () => {
  await Promise.all(gateways.map((gateway) => gateway.stop(3000)));
  killAll();
  deleteNamespaces();
  rmSync(dir, { recursive: true, force: true });
});

test('a replica cut off from etcd serves its last definitions, is routed around, and converges after the partition', async (t) => {
  await write('lb', 'PUT', '/admin/tds/keep', tool('keep'));
  await write('lb', 'PUT', '/admin/tds/mod', tool('mod'));
  await write('lb', 'PUT', '/admin/tds/gone', tool('gone'));
  await write('lb', 'PUT', '/admin/ids/part', { name: 'part', tool_ids: ['keep', 'mod', 'gone'] });
  const before = { gone: 'gone, first version', keep: 'keep, first version', mod: 'mod, first version' };
  await until('every replica serves the definitions', async () => {
    const lists = await Promise.all([1, 2, 3].map((n) => listed(n).catch(() => ({}))));
    return lists.every((list) => JSON.stringify(list) === JSON.stringify(before));
  }, 15_000);
  const ids = await Promise.all([1, 2, 3].map((n) => replicaIdOf(n)));
  const [cut] = ids as [string];
  assert.deepEqual([...(await balanced(6))].sort(), [...ids].sort(), 'HAProxy spreads requests over all three replicas');

  // The cut: replica 1's store link goes down at etcd's bridge; its front link stays up.
  const cutAt = Date.now();
  ip('-n', NS.etcd, 'link', 'set', 'r1s', 'down');

  const notReadyMs = await until('replica 1 reports not ready', async () => (await get(1, '/readyz')).status === 503, 15_000);
  t.diagnostic(`replica 1 not ready ${notReadyMs} ms after the cut (etcd keepalive ${KEEPALIVE_MS} ms)`);
  // gRPC keepalive notices a dead link within the interval plus its 2 s timeout; allow scheduling slack.
  assert.ok(notReadyMs <= KEEPALIVE_MS + 2000 + 3000, `not ready within a bounded time (${notReadyMs} ms)`);
  const readyz = await get(1, '/readyz');
  assert.equal(readyz.body.store.connected, false);
  assert.equal(readyz.body.loaded, true);

  // HAProxy takes it out after two failed checks (1 s apart).
  await until('HAProxy routes around replica 1', async () => !(await balanced(6)).has(cut), 10_000);
  t.diagnostic(`routed around ${Date.now() - cutAt} ms after the cut`);

  // Meanwhile, through replica 2: a new tool, a changed one, a deleted one.
  await write(2, 'PUT', '/admin/tds/fresh', tool('fresh'));
  await write(2, 'PUT', '/admin/tds/mod', tool('mod', 'mod, second version'));
  await write(2, 'PUT', '/admin/ids/part', { name: 'part', tool_ids: ['keep', 'mod', 'fresh'] });
  await write(2, 'DELETE', '/admin/tds/gone');
  const afterChange = { fresh: 'fresh, first version', keep: 'keep, first version', mod: 'mod, second version' };
  await until('replica 3 serves the change', async () => JSON.stringify(await listed(3)) === JSON.stringify(afterChange), 15_000);
  for (let i = 0; i < 4; i += 1) assert.deepEqual(await listed('lb'), afterChange, 'the balancer serves only current replicas');

  // The cut-off replica still serves what it had, calls included; a write through it is refused, not lost.
  assert.deepEqual(await listed(1), before);
  const call = await modernRequest('http://gateway', 'part', 'tools/call', { name: 'gone', arguments: {} }, AUTH, directSocket(1));
  assert.equal(call.status, 200);
  assert.equal(call.body.result.content[0].text, '{"ok":true}', JSON.stringify(call.body));
  const refused = await send(1, 'PUT', '/admin/tds/lost', tool('lost'));
  assert.equal(refused.status, 503, JSON.stringify(refused.body));

  // The link comes back: replica 1 resyncs, serves the change, and never brings the deleted tool back.
  const healedAt = Date.now();
  ip('-n', NS.etcd, 'link', 'set', 'r1s', 'up');
  await until('replica 1 is ready again', async () => (await get(1, '/readyz')).status === 200, 20_000);
  await until('replica 1 converged', async () => JSON.stringify(await listed(1)) === JSON.stringify(afterChange), 10_000);
  t.diagnostic(`replica 1 converged ${Date.now() - healedAt} ms after the link came back`);
  const status = (await get(1, '/admin/status', AUTH)).body.data;
  // etcd: a replica that reloaded holds the store's revision, which may be above the newest definition's.
  for (const replica of status.replicas) assert.equal(replica.lag, 0, `every replica is current: ${JSON.stringify(status.replicas)}`);
  const gone = await send(1, 'GET', '/admin/tds/gone');
  assert.equal(gone.status, 404, 'the deleted tool stays deleted');
  assert.equal((await send(1, 'GET', '/admin/tds/lost')).status, 404, 'the refused write did not land later');

  await until('HAProxy sends traffic to replica 1 again', async () => (await balanced(6)).has(cut), 10_000);
  for (let i = 0; i < 3; i += 1) {
    const answer = await modernRequest('http://gateway', 'part', 'tools/call', { name: 'fresh', arguments: {} }, AUTH, lbSocket);
    assert.equal(answer.body.result.content[0].text, '{"ok":true}', JSON.stringify(answer.body));
  }
  assert.deepEqual(await listed(1), afterChange, 'still converged');
  t.diagnostic(haproxyLog.split('\n').filter((line) => /is (DOWN|UP)/.test(line)).join('\n'));
});
