/**
 * Every setting reads the environment strictly: a value that is not exactly what its format takes
 * stops the start with the setting, its variable, the value and what is expected, instead of being
 * read in part (convict's own `nat` and `port` took `5s` as 5 and `3.9e4` as 3).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from './load-config.js';
import { SETTINGS, type SettingInfo } from './schema-index.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-config-formats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every setting of the schema with its dotted path (the loader's own index of it); the number ones all have a variable. */
const settings = () => [...SETTINGS.values()] as Array<SettingInfo & { env: string }>;

const NUMBER_FORMATS = new Set(['whole-number', 'positive-int', 'port-number', 'milliseconds', 'positive-milliseconds']);
const numberSettings = settings().filter((setting) => NUMBER_FORMATS.has(setting.format as string));
/** The longest delay a Node.js timer keeps: the most any setting in milliseconds may be. */
const MAX_TIMER_MS = 2_147_483_647;
/** The retention ages run to weeks (30 days of history by default) and are never timed. */
const AGES = new Set(['datasource.tombstoneRetentionMs', 'datasource.historyRetentionMs']);
const millisecondSettings = numberSettings.filter((setting) => setting.path.endsWith('Ms') && !AGES.has(setting.path));

const valueAt = (config: unknown, path: string) => path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown>)[key], config);

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ env, configDir: dir });
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

test('no setting uses a format that reads environment text leniently', () => {
  // convict's nat, int and port read text with parseInt; Number and Array take anything; use the schema's own formats.
  const lenient = settings().filter((setting) => ['nat', 'int', 'integer', 'port', 'duration', 'timestamp', Number, Array].includes(setting.format as never));
  assert.deepEqual(lenient.map((setting) => setting.path), []);
  assert.ok(numberSettings.length > 30, 'the number settings are found');
});

test('every number setting refuses text that is not exactly a whole number, naming the setting, its variable and the value', () => {
  for (const setting of numberSettings) {
    for (const text of ['5s', '39513x', '3.9e4', '10k', '0x10', '1.0', '+5', '-1', '1_000', 'ten']) {
      const message = refusal({ [setting.env]: text });
      const expected = `${setting.path}: must be a ${setting.format === 'port-number' ? 'port number from 0 to 65535' : 'whole number'}`;
      assert.ok(message.startsWith(`invalid configuration: ${expected}`), `${setting.env}=${text}: ${message}`);
      assert.ok(message.includes(`in digits only: no unit, sign, decimal point or exponent: value was "${text}" (from ${setting.env})`), `${setting.env}=${text}: ${message}`);
    }
    assert.match(refusal({ [setting.env]: ' ' }), new RegExp(`${setting.path.replace(/\./g, '\\.')}: must be .*; it is empty.* \\(from ${setting.env}\\)$`));
  }
});

test('every number setting reads digits with blanks around them, and keeps its documented default', () => {
  for (const setting of numberSettings) {
    const value = setting.default === null ? 42 : (setting.default as number);
    const config = loadConfig({ env: { [setting.env]: ` ${value}\n` }, configDir: dir });
    assert.equal(valueAt(config, setting.path), value, setting.env);
    if (setting.default !== null) assert.equal(valueAt(loadConfig({ env: {}, configDir: dir }), setting.path), setting.default, setting.path);
  }
});

test('number settings keep their ranges, from the environment and from files', () => {
  assert.equal(loadConfig({ env: { DYNMCP_PORT: '65535' }, configDir: dir }).server.port, 65535);
  assert.equal(loadConfig({ env: { DYNMCP_PORT: '0' }, configDir: dir }).server.port, 0);
  assert.match(refusal({ DYNMCP_PORT: '65536' }), /server\.port: must be a port number from 0 to 65535.*value was 65536 \(from DYNMCP_PORT\)/);
  assert.match(refusal({ DYNMCP_MYSQL_PORT: '70000' }), /datasource\.mysql\.port: must be a port number/);
  assert.match(refusal({ DYNMCP_TOOLS_PAGE_SIZE: '0' }), /mcp\.toolsPageSize: must be a whole number, 1 or more/);
  assert.equal(loadConfig({ env: { DYNMCP_MAX_SESSIONS: '0' }, configDir: dir }).mcp.maxSessions, 0);
  assert.match(refusal({ DYNMCP_MAX_SESSIONS: '99999999999999999999' }), /mcp\.maxSessions: must be a whole number, 0 or more.*value was "99999999999999999999"/);
  assert.match(refusal({ DYNMCP_METRICS_PORT: '' }), /metrics\.port: must be a port number .*it is empty \(from DYNMCP_METRICS_PORT\)/);
  // convict leaves a value of 0 out of its message; the loader puts it back.
  assert.match(refusal({ DYNMCP_UPSTREAM_TIMEOUT_MS: '0' }), /executor\.timeoutMs: must be a whole number, 1 or more.*: value was 0 \(from DYNMCP_UPSTREAM_TIMEOUT_MS\)/);

  const files = mkdtempSync(join(dir, 'files-'));
  writeFileSync(join(files, 'default.json'), JSON.stringify({ server: { port: '9000', shutdownGraceMs: 2500 }, executor: { timeoutMs: '5s' } }));
  assert.match(
    (() => {
      try {
        loadConfig({ env: {}, configDir: files });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    })(),
    /executor\.timeoutMs: must be a whole number.*value was "5s" \(from .*default\.json; environment variable DYNMCP_UPSTREAM_TIMEOUT_MS\)/,
  );
  writeFileSync(join(files, 'default.json'), JSON.stringify({ server: { port: '9000', shutdownGraceMs: 2500 } }));
  const fromFile = loadConfig({ env: {}, configDir: files });
  assert.equal(fromFile.server.port, 9000);
  assert.equal(fromFile.server.shutdownGraceMs, 2500);
});

test('every setting in milliseconds but the retention ages uses a millisecond format', () => {
  const others = millisecondSettings.filter((setting) => !['milliseconds', 'positive-milliseconds'].includes(setting.format as string));
  assert.deepEqual(others.map((setting) => setting.path), []);
  assert.ok(millisecondSettings.length >= 16, 'the millisecond settings are found');
});

test('every setting in milliseconds refuses more than 2147483647, the longest delay Node.js can time, naming the setting, its variable and the value', () => {
  for (const setting of millisecondSettings) {
    for (const value of [MAX_TIMER_MS + 1, 30 * 24 * 60 * 60 * 1000, Number.MAX_SAFE_INTEGER]) {
      const message = refusal({ [setting.env]: String(value) });
      assert.equal(
        message,
        `invalid configuration: ${setting.path}: must be at most 2147483647 (about 24.8 days), the longest delay Node.js can time: it would run a longer one after 1 ms: value was ${value} (from ${setting.env})`,
      );
    }
  }
  // The largest value loads, every setting at once (the heartbeat one less: replicas.ttlMs must exceed it).
  const largest = Object.fromEntries(millisecondSettings.map((setting) => [setting.env, String(MAX_TIMER_MS)]));
  largest.DYNMCP_REPLICA_HEARTBEAT_MS = String(MAX_TIMER_MS - 1);
  const config = loadConfig({ env: largest, configDir: dir });
  for (const setting of millisecondSettings) {
    assert.equal(valueAt(config, setting.path), setting.path === 'replicas.heartbeatMs' ? MAX_TIMER_MS - 1 : MAX_TIMER_MS, setting.path);
  }

  const files = mkdtempSync(join(dir, 'timers-'));
  writeFileSync(join(files, 'default.json'), JSON.stringify({ executor: { timeoutMs: 3_000_000_000 } }));
  assert.throws(
    () => loadConfig({ env: {}, configDir: files }),
    /executor\.timeoutMs: must be at most 2147483647 \(about 24\.8 days\).*value was 3000000000 \(from .*default\.json; environment variable DYNMCP_UPSTREAM_TIMEOUT_MS\)/,
  );
});

test('0 and null keep meaning off in millisecond settings; the retention ages take weeks', () => {
  const off = loadConfig({ env: { DYNMCP_REQUEST_TIMEOUT_MS: '0', DYNMCP_HEADERS_TIMEOUT_MS: '0' }, configDir: dir });
  assert.equal(off.server.requestTimeoutMs, 0);
  assert.equal(off.server.headersTimeoutMs, 0);
  assert.equal(off.admin.authFailureWindowMs, null, 'a deprecated setting left unset stays null');
  assert.match(refusal({ DYNMCP_REPLICA_HEARTBEAT_MS: '0' }), /replicas\.heartbeatMs: must be a whole number, 1 or more/);
  const weeks = String(90 * 24 * 60 * 60 * 1000);
  const ages = loadConfig({ env: { DYNMCP_HISTORY_RETENTION_MS: weeks, DYNMCP_TOMBSTONE_RETENTION_MS: weeks }, configDir: dir });
  assert.equal(ages.datasource.historyRetentionMs, Number(weeks));
  assert.equal(ages.datasource.tombstoneRetentionMs, Number(weeks));
});

test('server.workers takes auto or digits only', () => {
  assert.equal(loadConfig({ env: { DYNMCP_WORKERS: ' 4 ' }, configDir: dir }).server.workers, 4);
  for (const text of ['0x2', '2.0', '1e1', '4 workers']) {
    assert.match(refusal({ DYNMCP_WORKERS: text }), new RegExp(`server\\.workers: must be "auto" .*value was "${text}" \\(from DYNMCP_WORKERS\\)`));
  }
});

test('lists drop blank entries; the host, the environment name and the auth providers cannot be blank', () => {
  const config = loadConfig({ env: { DYNMCP_ALLOWED_HOSTS: ' a.example , ,b.example ', DYNMCP_OAUTH_AUDIENCES: '', DYNMCP_ETCD_ENDPOINTS: 'http://e1:2379, http://e2:2379' }, configDir: dir });
  assert.deepEqual(config.server.allowedHosts, ['a.example', 'b.example']);
  assert.deepEqual(config.auth.oauth.audiences, []);
  assert.deepEqual(config.datasource.etcd.endpoints, ['http://e1:2379', 'http://e2:2379']);
  assert.deepEqual(loadConfig({ env: { DYNMCP_AUTH_PROVIDERS: 'oauth, api-key' }, configDir: dir }).auth.providers, ['oauth', 'api-key']);

  // An empty DYNMCP_HOST would listen on every interface; an empty provider list would let nobody in.
  assert.match(refusal({ DYNMCP_HOST: '' }), /server\.host: must be an address or host name to listen on.*\(from DYNMCP_HOST\)/);
  assert.match(refusal({ DYNMCP_AUTH_PROVIDERS: ' ' }), /auth\.providers: must name at least one auth provider.*\(from DYNMCP_AUTH_PROVIDERS\)/);
  assert.match(refusal({ DYNMCP_ENV: '../secrets/x' }), /env: must be a name such as development.*value was "\.\.\/secrets\/x" \(from DYNMCP_ENV\)/);
  assert.match(refusal({ DYNMCP_ENV: '' }), /env: must be a name .*\(from DYNMCP_ENV\)/);

  const files = mkdtempSync(join(dir, 'lists-'));
  writeFileSync(join(files, 'default.json'), JSON.stringify({ server: { allowedOrigins: ['app.example', 7] } }));
  assert.throws(() => loadConfig({ env: {}, configDir: files }), /server\.allowedOrigins: entry 2 must be a non-empty string/);
});
