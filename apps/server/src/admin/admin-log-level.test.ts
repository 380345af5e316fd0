/**
 * The log level override (`/admin/log-level`): two real gateways on one SQLite store, each with
 * the gateway's own logger writing to a stream the test reads, a real upstream, and the official
 * MCP client making the calls whose lines the override turns on.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '@dynmcp/common';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';
import { createLogLevelOverride, MAX_OVERRIDE_SECONDS } from './admin-log-level.js';

/** A gateway logger at `level` whose lines the test reads as parsed objects. */
function capturedLogger(level: 'warn' | 'error') {
  const stream = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ level, stream }), lines };
}

/** Waits (the logger writes its lines at the end of the event loop's turn) until `check` holds. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const levelOf = async (gateway: TestGateway) => (await gateway.admin('GET', '/admin/log-level')).body.data as { level: string; configured: string; override: Record<string, unknown> | null };

describe('log level override through the admin API', () => {
  let upstream: TestUpstream;
  let first: TestGateway;
  let second: TestGateway;
  const firstLog = capturedLogger('warn');
  const secondLog = capturedLogger('warn');

  before(async () => {
    upstream = await startUpstream((_hit, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    first = await startTestGateway({}, { logger: firstLog.logger });
    second = await startTestGateway({}, { dataDir: first.dataDir, logger: secondLog.logger });
    const tool = { name: 'ping', description: 'ping', input_schema: { type: 'object' }, tds_ext_info: { domain: upstream.url, method: 'GET', path: '/ping' } };
    assert.equal((await first.admin('PUT', '/admin/tds/ping', tool)).status, 200);
    assert.equal((await first.admin('PUT', '/admin/ids/logs', { name: 'logs', tool_ids: ['ping'] })).status, 200);
  });
  after(async () => {
    await second?.stop({ keepData: true });
    await first?.stop();
    await upstream?.close();
  });

  /** Makes one tool call on `gateway` and tells whether its `tool call` line (info) was written. */
  async function callLogged(gateway: TestGateway, lines: Array<Record<string, unknown>>): Promise<boolean> {
    const before = lines.filter((line) => line.message === 'tool call').length;
    const { client } = await connectModern(`${gateway.url}/mcp/logs`);
    try {
      assert.notEqual((await client.callTool({ name: 'ping', arguments: {} })).isError, true);
    } finally {
      await client.close();
    }
    await sleep(50);
    return lines.filter((line) => line.message === 'tool call').length > before;
  }

  test('starts at the configured level, with no override', async () => {
    assert.deepEqual(await levelOf(first), { level: 'warn', configured: 'warn', override: null });
    assert.equal(await callLogged(first, firstLog.lines), false);
  });

  test('an override reaches every replica from the store, turns their lines on, is audited, and DELETE ends it everywhere', async () => {
    const put = await first.admin('PUT', '/admin/log-level', { level: 'debug', duration_seconds: 600 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.meta.applied, true);
    assert.equal(put.body.data.level, 'debug');
    assert.equal(put.body.data.configured, 'warn');
    assert.equal(put.body.data.override.level, 'debug');
    // The admin key's principal id, never the key itself.
    assert.match(put.body.data.override.set_by, /^api-key:[0-9a-f]+$/);
    assert.ok(!JSON.stringify(put.body).includes(TEST_KEY));
    const expiresIn = Date.parse(put.body.data.override.expires_at) - Date.now();
    assert.ok(expiresIn > 590_000 && expiresIn <= 600_000, `expires in ${expiresIn} ms`);

    // The other replica learns it from the feed.
    await eventually(async () => (await levelOf(second)).level === 'debug', 'the second replica at debug');
    assert.equal(await callLogged(second, secondLog.lines), true);
    assert.equal(await callLogged(first, firstLog.lines), true);
    // A level read per line: the /mcp access lines (debug) follow the change too.
    assert.ok(firstLog.lines.some((line) => line.message === 'request' && line.level === 'debug' && line.component === 'http'));
    const announced = secondLog.lines.find((line) => line.message === 'log level set by the admin API');
    assert.equal(announced?.level, 'warn');
    assert.equal(announced?.override, 'debug');
    assert.equal(announced?.configured, 'warn');
    assert.equal(announced?.setBy, put.body.data.override.set_by);

    const audit = await first.admin('GET', '/admin/audit');
    assert.ok(
      (audit.body.data.entries as Array<Record<string, unknown>>).some((entry) => entry.kind === 'log_level' && entry.action === 'put'),
      JSON.stringify(audit.body.data.entries),
    );

    const removed = await second.admin('DELETE', '/admin/log-level');
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.body.data, { level: 'warn', configured: 'warn', override: null });
    assert.equal(removed.body.meta.applied, true);
    await eventually(async () => (await levelOf(first)).level === 'warn', 'the first replica back at warn');
    assert.equal(await callLogged(first, firstLog.lines), false);
    assert.ok(firstLog.lines.some((line) => line.message === 'log level back to the configured level' && line.reason === 'removed' && line.configured === 'warn'));
    // Ending what is not there is no error: every replica is at its configured level.
    const again = await first.admin('DELETE', '/admin/log-level');
    assert.equal(again.status, 200);
    assert.equal(again.body.meta.applied, true);
  });

  test('an override ends by itself when its time is up, on every replica', async () => {
    const put = await first.admin('PUT', '/admin/log-level', { level: 'info', duration_seconds: 1 });
    assert.equal(put.status, 200);
    await eventually(async () => (await levelOf(second)).level === 'info', 'the second replica at info');
    await eventually(async () => (await levelOf(first)).level === 'warn' && (await levelOf(second)).level === 'warn', 'both replicas back at warn', 4_000);
    assert.equal((await levelOf(first)).override, null);
    assert.ok(secondLog.lines.some((line) => line.message === 'log level back to the configured level' && line.reason === 'expired'));
  });

  test('a replica that starts while an override is stored applies it', async () => {
    assert.equal((await first.admin('PUT', '/admin/log-level', { level: 'error', duration_seconds: 60 })).status, 200);
    const late = capturedLogger('warn');
    const third = await startTestGateway({}, { dataDir: first.dataDir, logger: late.logger });
    try {
      await eventually(async () => (await levelOf(third)).level === 'error', 'the new replica at error');
      // Lowered to error: the line saying so was written before the level went down.
      assert.ok(late.lines.some((line) => line.message === 'log level set by the admin API' && line.level === 'warn'));
    } finally {
      await third.stop({ keepData: true });
      assert.equal((await first.admin('DELETE', '/admin/log-level')).status, 200);
    }
  });

  test('bad requests are refused with what to send, and change nothing', async () => {
    const refusals: Array<[body: unknown, fragment: RegExp]> = [
      [{}, /level must be one of error, warn, info, debug, got nothing/],
      [{ level: 'silent' }, /"silent" only as the configured level/],
      [{ level: 'verbose' }, /level must be one of/],
      [{ level: 'DEBUG' }, /level must be one of/],
      [{ level: 'info', duration_seconds: 0 }, /duration_seconds must be a whole number of seconds from 1 to 86400/],
      [{ level: 'info', duration_seconds: 1.5 }, /duration_seconds must be/],
      [{ level: 'info', duration_seconds: MAX_OVERRIDE_SECONDS + 1 }, /set log\.level \(DYNMCP_LOG_LEVEL\)/],
      [{ level: 'info', duration_seconds: '60' }, /got "60"/],
      [{ level: 'info', duration_seconds: null }, /got null/],
      [{ level: 'info', minutes: 5 }, /unknown field\(s\) "minutes"/],
      [['info'], /send \{ "level"/],
    ];
    for (const [body, fragment] of refusals) {
      const answer = await first.admin('PUT', '/admin/log-level', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error_code, 'INVALID_PAYLOAD');
      assert.match(answer.body.error, fragment, JSON.stringify(body));
    }
    assert.equal((await first.admin('PUT', '/admin/log-level', '{"level":')).body.error_code, 'INVALID_JSON');
    const noType = await fetch(`${first.url}/admin/log-level`, { method: 'PUT', headers: { authorization: `Bearer ${TEST_KEY}` }, body: '{"level":"debug"}' });
    assert.equal(noType.status, 415);
    assert.equal((await first.admin('POST', '/admin/log-level', { level: 'debug' })).status, 405);
    const anonymous = await fetch(`${first.url}/admin/log-level`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"level":"debug"}' });
    assert.equal(anonymous.status, 401);
    assert.equal((await fetch(`${first.url}/admin/log-level`)).status, 401);
    assert.deepEqual(await levelOf(first), { level: 'warn', configured: 'warn', override: null });
  });
});

describe('the override as the feed delivers it', () => {
  test('ignores a record it cannot read, and a snapshot without the record ends the override', () => {
    const { logger, lines } = capturedLogger('error');
    const override = createLogLevelOverride({ logger });
    try {
      override.put('override', { level: 'loud', expires_at: new Date(Date.now() + 60_000).toISOString() }, 5);
      assert.equal(logger.level, 'error');
      override.put('override', { level: 'debug', expires_at: 'tomorrow' }, 6);
      assert.equal(logger.level, 'error');
      override.put('override', { level: 'debug', expires_at: new Date(Date.now() - 1).toISOString() }, 7);
      assert.equal(logger.level, 'error', 'an override that has already expired is not applied');
      override.put('another-id', { level: 'debug', expires_at: new Date(Date.now() + 60_000).toISOString() }, 8);
      assert.equal(logger.level, 'error');
      override.put('override', { level: 'debug', expires_at: new Date(Date.now() + 60_000).toISOString() }, 9);
      assert.equal(logger.level, 'debug');
      assert.equal(override.state().override?.revision, 9);
      override.replace([]);
      assert.equal(logger.level, 'error');
      assert.equal(override.state().override, null);
      assert.equal(lines.length, 0, 'lines at error only: the warnings of the changes are not written');
    } finally {
      override.close();
    }
  });
});
