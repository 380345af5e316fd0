/**
 * `config/load-balancers/nginx.conf`, filled in as documented (its `${DYNMCP_…}` placeholders), in
 * front of two gateway replicas on one host (one SQLite file) and a third address where nothing
 * listens: nginx spreads requests over the two, a change written through it is served by both, and
 * when one replica stops the other takes every request; no request fails and no tool call reaches
 * the upstream twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { freePort, startUpstream, type TestUpstream } from '@dynmcp/testing';
import { freshRequest, modernRequest, until } from '../test-support/fresh-connection.js';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';

const NGINX_CONF = fileURLToPath(new URL('../../../../config/load-balancers/nginx.conf', import.meta.url));
const KEY = 'nginx-test-admin-key';
const AUTH = { authorization: `Bearer ${KEY}` };

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-nginx-'));
const gateways: GatewayProcess[] = [];
let nginx: ChildProcess | undefined;
let upstream: TestUpstream | undefined;
let nginxLog = '';

after(async () => {
  nginx?.kill('SIGTERM');
  await Promise.all(gateways.map((gateway) => gateway.stop(3000)));
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The documented file with its placeholders filled in, as `envsubst` would; every one must be known. */
function nginxConfig(values: Record<string, string>): string {
  return readFileSync(NGINX_CONF, 'utf8').replace(/\$\{(DYNMCP_[A-Z0-9_]+)\}/g, (_, name: string) => {
    assert.ok(name in values, `the test fills in \${${name}}`);
    return values[name] as string;
  });
}

test('nginx spreads requests over the replicas and keeps serving when one stops', async () => {
  upstream = await startUpstream();
  const env = {
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: KEY,
    DYNMCP_SQLITE_PATH: join(dir, 'dynmcp.sqlite'),
    DYNMCP_POLL_INTERVAL_MS: '100',
    DYNMCP_SHUTDOWN_GRACE_MS: '500',
  };
  const [a, b] = [startGatewayProcess(env), startGatewayProcess(env)] as [GatewayProcess, GatewayProcess];
  gateways.push(a, b);
  const urls = await Promise.all([a.url, b.url]);
  const [port, nobody] = [await freePort(), await freePort()];
  mkdirSync(join(dir, 'logs'));
  const [gw1, gw2] = urls.map((url) => new URL(url).host) as [string, string];
  writeFileSync(
    join(dir, 'nginx.conf'),
    nginxConfig({ DYNMCP_LB_LISTEN: `127.0.0.1:${port}`, DYNMCP_GW1: gw1, DYNMCP_GW2: gw2, DYNMCP_GW3: `127.0.0.1:${nobody}` }),
  );
  nginx = spawn('nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  nginx.stderr!.on('data', (chunk: Buffer) => (nginxLog += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  await until('nginx answers', async () => (await freshRequest(`${base}/readyz`).catch(() => undefined))?.status === 200, 10_000).catch(
    (error: Error) => {
      throw new Error(`${error.message}; nginx said: ${nginxLog}`);
    },
  );

  const replicaIds = new Set<string>();
  for (let i = 0; i < 4; i += 1) replicaIds.add((await freshRequest(`${base}/admin/status`, { headers: AUTH })).body.data.replica_id);
  assert.equal(replicaIds.size, 2, 'both replicas answer through nginx');

  const tool = {
    name: 'ng_echo',
    description: 'echo',
    input_schema: { type: 'object' },
    tds_ext_info: { domain: upstream.url, method: 'GET', path: '/echo', required_params: {}, ext_info: {} },
  };
  assert.equal((await freshRequest(`${base}/admin/tds/ng-echo`, { method: 'PUT', headers: AUTH, body: tool })).status, 200);
  assert.equal((await freshRequest(`${base}/admin/ids/ng`, { method: 'PUT', headers: AUTH, body: { name: 'ng', tool_ids: ['ng-echo'] } })).status, 200);
  const callAll = async (rounds: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const answer = await modernRequest(base, 'ng', 'tools/call', { name: 'ng_echo', arguments: {} }, AUTH);
      statuses.push(answer.status === 200 && answer.body.result?.isError !== true ? 200 : answer.status);
    }
    return statuses;
  };
  await until('both replicas serve the change', async () => (await callAll(4)).every((status) => status === 200));
  upstream.hits.length = 0;
  assert.deepEqual(await callAll(4), [200, 200, 200, 200]);
  assert.equal(upstream.hits.length, 4, 'every call reached the upstream once');

  // One replica stops: nginx finds its port closed and sends the requests to the other.
  await b.stop(3000);
  upstream.hits.length = 0;
  assert.deepEqual(await callAll(6), [200, 200, 200, 200, 200, 200]);
  assert.equal(upstream.hits.length, 6, 'no call was sent twice');
});
