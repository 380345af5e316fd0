/**
 * The interface contract of the `dynmcp-server` binary: configured by DYNMCP_* variables, JSON logs with
 * one line per tool call and no secrets, /healthz, graceful exit on SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGatewayProcess, type GatewayProcess } from './test-support/gateway-process.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';

const SECRET_TOKEN = 'canary-upstream-secret-4711';
const KEYS = ['canary-admin-key-one', 'canary-admin-key-two'];

let dir: string;
let upstream: TestUpstream;
let gateway: GatewayProcess;
let url: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-'));
  upstream = await startUpstream((hit, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, sawToken: hit.headers['x-upstream-token'] === SECRET_TOKEN }));
  });
  gateway = startGatewayProcess({
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: KEYS.join(','),
    DYNMCP_DATASOURCE: 'sqlite',
    DYNMCP_SQLITE_PATH: join(dir, 'nested', 'store.sqlite'),
    // debug: the per-request access lines of /mcp are debug; secrets must not show even there.
    DYNMCP_LOG_LEVEL: 'debug',
    UPSTREAM_TOKEN: SECRET_TOKEN,
  });
  url = await gateway.url;
});
after(async () => {
  if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (method: string, path: string, body?: unknown, key = KEYS[1]!) =>
  fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

test('serves /healthz and the admin API with any configured key', async () => {
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  assert.equal((await admin('GET', '/admin/tds', undefined, KEYS[0])).status, 200);
  assert.equal((await admin('GET', '/admin/tds', undefined, KEYS[1])).status, 200);
  assert.equal((await admin('GET', '/admin/tds', undefined, 'not-a-key')).status, 401);
});

test('a tool call writes one JSON log line with instance, tool, upstream status and latency, and no secrets', async () => {
  const tool = {
    name: 'ping_upstream',
    input_schema: { type: 'object' },
    tds_ext_info: {
      domain: upstream.url,
      method: 'GET',
      path: '/ping',
      ext_info: { headers: { 'x-upstream-token': '${env:UPSTREAM_TOKEN}' } },
    },
  };
  assert.equal((await admin('PUT', '/admin/tds/ping', tool)).status, 200);
  assert.equal((await admin('PUT', '/admin/ids/cli', { name: 'cli', tool_ids: ['ping'] })).status, 200);
  const res = await fetch(`${url}/mcp/cli`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${KEYS[0]}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'ping_upstream', arguments: {} } }),
  });
  const text = await res.text();
  assert.match(text, /sawToken\\?":true/, 'the ${env:…} header reached the upstream');
  assert.equal(upstream.hits.at(-1)?.headers.authorization, undefined, "the client's Authorization is not forwarded");

  await sleep(100);
  const adminAccess = gateway.lines.find((line) => line.message === 'request' && line.method === 'PUT');
  assert.match(String(adminAccess?.path), /^\/admin\/(tds|ids)\/[^?]+$/, 'the admin access line names the whole path, without the query');
  const call = gateway.lines.find((line) => line.message === 'tool call');
  assert.ok(call, 'a tool call line was logged');
  assert.equal(call.instanceId, 'cli');
  assert.equal(call.requestId, res.headers.get('x-request-id'), 'the call line carries the request id');
  const access = gateway.lines.find((line) => line.message === 'request' && line.requestId === call.requestId);
  assert.equal(access?.status, 200);
  assert.equal(call.tool, 'ping_upstream');
  assert.equal(call.upstreamStatus, 200);
  assert.equal(typeof call.latencyMs, 'number');
  assert.equal(call.level, 'info');
  const everything = JSON.stringify(gateway.lines) + gateway.stderr.join('');
  for (const secret of [SECRET_TOKEN, ...KEYS]) assert.ok(!everything.includes(secret), 'no secret in the logs');
});

test('SIGTERM stops the gateway gracefully with exit code 0', async () => {
  gateway.child.kill('SIGTERM');
  const code = await Promise.race([gateway.exited, sleep(10_000).then(() => 'timeout')]);
  assert.equal(code, 0);
  assert.ok(gateway.lines.some((line) => line.message === 'stopped'));
});

test('a call still running when the shutdown grace period ends is cut off, and the log says so', async () => {
  const slow = await startUpstream(async (_hit, res) => {
    await sleep(5_000);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  const graceDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-grace-'));
  const graceful = startGatewayProcess({
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: KEYS[0]!,
    DYNMCP_SQLITE_PATH: join(graceDir, 'store.sqlite'),
    DYNMCP_SHUTDOWN_GRACE_MS: '300',
  });
  try {
    const base = await graceful.url;
    const put = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${KEYS[0]}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await put('/admin/tds/slow', { name: 'slow', input_schema: { type: 'object' }, tds_ext_info: { domain: slow.url, method: 'GET', path: '/slow' } })).status, 200);
    assert.equal((await put('/admin/ids/grace', { name: 'grace', tool_ids: ['slow'] })).status, 200);
    const call = fetch(`${base}/mcp/grace`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${KEYS[0]}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow', arguments: {} } }),
    }).then(
      (response) => response.text(),
      () => 'cut off',
    );
    while (slow.hits.length === 0) await sleep(20);
    graceful.child.kill('SIGTERM');
    assert.equal(await Promise.race([graceful.exited, sleep(10_000).then(() => 'timeout')]), 0);
    assert.equal(await call, 'cut off', 'the client sees its connection close');
    const warning = graceful.lines.find((line) => line.level === 'warn' && /shutdown grace period ran out/.test(String(line.message)));
    assert.equal(warning?.graceMs, 300);
  } finally {
    if (graceful.child.exitCode === null) graceful.child.kill('SIGKILL');
    await slow.close();
    rmSync(graceDir, { recursive: true, force: true });
  }
});

test('a SQLite path that can never hold a database stops the start at once, naming it, instead of retrying forever', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'dynmcp-cli-sqlite-'));
  try {
    const started = Date.now();
    const bad = startGatewayProcess({ DYNMCP_PORT: '0', DYNMCP_HOST: '127.0.0.1', DYNMCP_API_KEYS: KEYS[0]!, DYNMCP_SQLITE_PATH: folder });
    bad.url.catch(() => undefined);
    assert.equal(await Promise.race([bad.exited, sleep(20_000).then(() => 'still running')]), 1);
    assert.ok(Date.now() - started < 15_000, 'it did not wait out the retries');
    assert.match(bad.stderr.join(''), new RegExp(`dynmcp: failed to start: SQLite database path "${folder}": it is a folder, not a file`));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('a bad setting stops the start with a message naming it', async () => {
  const bad = startGatewayProcess({ DYNMCP_PORT: 'eighty', DYNMCP_API_KEYS: 'k' });
  bad.url.catch(() => undefined);
  assert.equal(await bad.exited, 1);
  assert.match(bad.stderr.join(''), /server\.port/);
  const unknown = startGatewayProcess({ DYNMCP_DATASOURCE: 'redis', DYNMCP_PORT: '0' });
  unknown.url.catch(() => undefined);
  assert.equal(await unknown.exited, 1);
  assert.match(unknown.stderr.join(''), /datasource "redis".*sqlite/);
});
