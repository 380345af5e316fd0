/**
 * A 2025-era session's log level (`logging/setLevel`) holds on every replica: two gateways sharing
 * `mcp.sessionSecret` and one store (one SQLite file), an upstream whose tool streams a debug and
 * a warning log event, the official v1 client on one replica and raw requests of the same session
 * on the other. Below it, the shared record itself: the latest level wins, a replica started later
 * reads it, expired ones are purged, bad levels are ignored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createLiveDefinitions, createSchemaCompiler, type LiveDefinitions } from '@dynmcp/common';
import { createSessionLogLevels, SESSION_LOG_LEVEL_KIND, type SessionLogLevels } from '@dynmcp/core';
import { createSqlDataSource } from '@dynmcp/datasources';
import { silentLogger, type DataSource } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';
import { connectLegacy, sessionHeaders } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

function route(_hit: UpstreamHit, res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(`event: log\ndata: ${JSON.stringify({ level: 'debug', data: 'fetching' })}\n\n`);
  res.write(`event: log\ndata: ${JSON.stringify({ level: 'warning', data: 'slow' })}\n\n`);
  res.end(`event: result\ndata: ${JSON.stringify({ done: true })}\n\n`);
}

let dir: string;
let upstream: TestUpstream;
let a: TestGateway;
let b: TestGateway;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/**
 * Sends one JSON-RPC message of session `sessionId` to `gw`; resolves with the levels of the log
 * notifications in the answer (an error answer rejects, with its message).
 */
async function send(gw: TestGateway, sessionId: string, message: Record<string, unknown>): Promise<string[]> {
  const response = await fetch(`${gw.url}/mcp/logs`, {
    method: 'POST',
    headers: sessionHeaders(sessionId),
    body: JSON.stringify({ jsonrpc: '2.0', id: Math.floor(Math.random() * 1e9), ...message }),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const levels: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const parsed = JSON.parse(line.slice(6)) as { method?: string; params?: { level: string }; error?: { message: string } };
    if (parsed.error !== undefined) throw new Error(parsed.error.message);
    if (parsed.method === 'notifications/message') levels.push(parsed.params!.level);
  }
  return levels;
}
const callJob = { method: 'tools/call', params: { name: 'job', arguments: {} } };
const setLevel = (level: string) => ({ method: 'logging/setLevel', params: { level } });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-log-levels-'));
  upstream = await startUpstream(route);
  const settings = { mcp: { sessionSecret: randomBytes(32).toString('base64') }, executor: { egress: { allow: ['127.0.0.1'] } } };
  a = await startTestGateway(settings, { dataDir: dir });
  b = await startTestGateway(settings, { dataDir: dir });
  const job = { name: 'job', description: 'streams two log events', input_schema: { type: 'object' }, tds_ext_info: { domain: upstream.url, method: 'GET', path: '/job' } };
  assert.equal((await a.admin('PUT', '/admin/tds/job', job)).status, 200);
  const put = await a.admin('PUT', '/admin/ids/logs', { name: 'logs', tool_ids: ['job'] });
  assert.equal(put.status, 200);
  assert.ok(await b.definitions.waitForRevision(put.body.meta.revision as number, 5000));
});

after(async () => {
  for (const gw of [b, a]) await gw?.stop();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a level set through one replica filters the session\'s log messages on the other, and the latest level wins', async () => {
  const { client, transport } = await connectLegacy(`${a.url}/mcp/logs`);
  const sessionId = transport.sessionId!;
  const onA: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    onA.push(notification.params.level);
  });
  try {
    // Without a level every message goes out, on either replica.
    assert.deepEqual(await send(b, sessionId, callJob), ['debug', 'warning']);
    await client.setLoggingLevel('warning');
    await client.callTool({ name: 'job', arguments: {} });
    await until('A sends the warning', () => onA.length > 0);
    assert.deepEqual(onA, ['warning'], 'on the replica that took it, at once');
    await until('B applies the level set through A', async () => (await send(b, sessionId, callJob)).join() === 'warning');

    // Set again through B: A follows.
    assert.deepEqual(await send(b, sessionId, setLevel('debug')), []);
    onA.length = 0;
    await until('A applies the level set through B', async () => {
      await client.callTool({ name: 'job', arguments: {} });
      await sleep(50);
      const seen = onA.join();
      onA.length = 0;
      return seen === 'debug,warning';
    });
    assert.deepEqual(await send(b, sessionId, callJob), ['debug', 'warning'], 'and B keeps it');
  } finally {
    await client.close();
  }
});

test('a level outside MCP\'s list is refused by the SDK and changes nothing', async () => {
  const { client, transport } = await connectLegacy(`${a.url}/mcp/logs`);
  try {
    await client.setLoggingLevel('error');
    await assert.rejects(send(a, transport.sessionId!, setLevel('loud')));
    assert.deepEqual(await send(a, transport.sessionId!, callJob), [], 'error still holds: neither message is that severe');
  } finally {
    await client.close();
  }
});

/** One replica's share of the store: a datasource, live definitions and session log levels. */
async function replicaOn(file: string, now: () => number): Promise<{ store: DataSource; definitions: LiveDefinitions; levels: SessionLogLevels }> {
  const store = createSqlDataSource({ client: 'sqlite', filename: file, pollIntervalMs: 50, logger: silentLogger });
  await store.open();
  const definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  await definitions.start();
  const levels = createSessionLogLevels({ datasource: store, definitions, logger: silentLogger, now, purgeEveryMs: 50 });
  return { store, definitions, levels };
}

test('the shared record: the latest write wins, a later replica reads it, expired ones are purged, bad levels ignored', async () => {
  const file = join(dir, 'levels.sqlite');
  let clock = Date.now();
  const now = () => clock;
  const one = await replicaOn(file, now);
  const two = await replicaOn(file, now);
  const replicas = [one, two];
  try {
    const expiresAt = clock + 60_000;
    await one.levels.set('nonce-1', expiresAt, 'info');
    await until('two learns info', () => two.levels.levelOf('nonce-1') === 'info');
    await two.levels.set('nonce-1', expiresAt, 'error');
    await until('one learns error', () => one.levels.levelOf('nonce-1') === 'error');
    // Back to a level the session had before: its record is written again, at a newer revision.
    await one.levels.set('nonce-1', expiresAt, 'info');
    await until('two learns info again', () => two.levels.levelOf('nonce-1') === 'info');
    await one.levels.set('nonce-1', expiresAt, 'loud');
    assert.equal(one.levels.levelOf('nonce-1'), 'info', 'not a level: ignored');

    const three = await replicaOn(file, now);
    replicas.push(three);
    await until('a replica started later reads it', () => three.levels.levelOf('nonce-1') === 'info');

    clock += 60_000 + 61_000;
    await until('expired records are purged from the store', async () => (await one.store.list(SESSION_LOG_LEVEL_KIND)).length === 0);
    assert.equal(one.levels.levelOf('nonce-1'), undefined);
  } finally {
    for (const { levels, definitions, store } of replicas.reverse()) {
      await levels.close();
      await definitions.close();
      await store.close();
    }
  }
});
