import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from './load-config.js';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function configDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-config-'));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content));
  return dir;
}

test('defaults apply without files or environment', () => {
  const config = loadConfig({ env: {}, configDir: configDir({}) });
  assert.equal(config.server.port, 8080);
  assert.equal(config.server.host, '127.0.0.1');
  assert.equal(config.datasource.type, 'sqlite');
  assert.deepEqual(config.admin.apiKeys, []);
  assert.ok(Object.isFrozen(config.server));
});

test('environment file overlays default file, environment variables win over both', () => {
  const dir = configDir({
    'default.json': { server: { port: 9000 }, admin: { apiKeys: ['file-admin-key'] } },
    'staging.json': { server: { port: 9100, host: '0.0.0.0' } },
  });
  const config = loadConfig({
    env: { DYNMCP_ENV: 'staging', DYNMCP_PORT: '9200', DYNMCP_API_KEYS: 'key-one-1, key-two-2', DYNMCP_DATASOURCE: 'mysql' },
    configDir: dir,
  });
  assert.equal(config.server.port, 9200);
  assert.equal(config.server.host, '0.0.0.0');
  assert.deepEqual(config.admin.apiKeys, ['key-one-1', 'key-two-2']);
  assert.equal(config.datasource.type, 'mysql');
});

test('unknown keys and bad values are refused with the key named', () => {
  assert.throws(() => loadConfig({ env: {}, configDir: configDir({ 'default.json': { server: { prot: 1 } } }) }), /server\.prot/);
  assert.throws(() => loadConfig({ env: { DYNMCP_DATASOURCE: 'no spaces please' }, configDir: configDir({}) }), /datasource\.type/);
  assert.throws(() => loadConfig({ env: { DYNMCP_PORT: 'eighty' }, configDir: configDir({}) }), /server\.port/);
});

test('plugins and scoped keys come from files or from JSON in the environment, and are checked', () => {
  const config = loadConfig({
    env: {
      DYNMCP_PLUGINS: '[{"module":"dynmcp-plugin-x","options":{"dir":"/defs"}}]',
      DYNMCP_AUTH_KEYS: '[{"id":"team-a","key":"team-a-secret","instances":["shop"]}]',
    },
    configDir: configDir({}),
  });
  assert.deepEqual(config.plugins, [{ module: 'dynmcp-plugin-x', options: { dir: '/defs' } }]);
  assert.deepEqual(config.auth.keys, [{ id: 'team-a', key: 'team-a-secret', instances: ['shop'] }]);
  assert.deepEqual(config.auth.providers, ['api-key']);
  assert.throws(() => loadConfig({ env: { DYNMCP_PLUGINS: '[{"mod":"x"}]' }, configDir: configDir({}) }), /plugins.*module/);
  assert.throws(
    () => loadConfig({ env: { DYNMCP_AUTH_KEYS: '[{"id":"a","key":"short"}]' }, configDir: configDir({}) }),
    /auth\.keys.*at least 8/,
  );
  assert.throws(
    () => loadConfig({ env: { DYNMCP_AUTH_KEYS: '[{"id":"a","key":"long-enough","instances":"shop"}]' }, configDir: configDir({}) }),
    /instances/,
  );
});

test('settings defaulting to null take their value from the environment unless something sets them', () => {
  const development = loadConfig({ env: {}, configDir: configDir({}) });
  assert.deepEqual(development.executor.toolEnvAllow, ['*']);
  assert.ok(development.executor.egress.allow.includes('127.0.0.0/8'));
  assert.ok(!development.executor.egress.allow.some((rule) => rule.startsWith('169.254.')), 'link-local stays denied');
  assert.deepEqual(development.executor.egress.deny, []);
  assert.equal(development.executor.secretsDir, '/run/secrets');

  const production = loadConfig({ env: { DYNMCP_ENV: 'production' }, configDir: configDir({}) });
  assert.deepEqual(production.executor.toolEnvAllow, []);
  assert.deepEqual(production.executor.egress.allow, []);

  // Set by a file, a variable or an override (even to an empty list), a value is kept as it is.
  const set = loadConfig({
    env: { DYNMCP_ENV: 'production', DYNMCP_TOOL_ENV_ALLOW: ' RESEND_*, GITHUB_TOKEN ' },
    configDir: configDir({ 'production.json': { executor: { egress: { allow: ['10.0.0.0/8', '*.corp.example'] } } } }),
  });
  assert.deepEqual(set.executor.toolEnvAllow, ['RESEND_*', 'GITHUB_TOKEN']);
  assert.deepEqual(set.executor.egress.allow, ['10.0.0.0/8', '*.corp.example']);
  const emptied = loadConfig({ env: { DYNMCP_TOOL_ENV_ALLOW: '' }, configDir: configDir({}), overrides: { executor: { egress: { allow: [] } } } });
  assert.deepEqual(emptied.executor.toolEnvAllow, []);
  assert.deepEqual(emptied.executor.egress.allow, []);
  assert.ok(Object.isFrozen(emptied.executor.egress.allow));
});

test('on/off settings read 0, no and off as off, and refuse what they cannot read', () => {
  const load = (env: Record<string, string>, files: Record<string, unknown> = {}) => loadConfig({ env: { DYNMCP_ENV: 'production', ...env }, configDir: configDir(files) });
  for (const text of ['0', 'no', 'off', 'false', ' False ']) {
    const config = load({ DYNMCP_UI: text, DYNMCP_METRICS_PUBLIC: text, DYNMCP_METRICS_ENABLED: text });
    assert.equal(config.ui.enabled, false, text);
    assert.equal(config.metrics.public, false, text);
    assert.equal(config.metrics.enabled, false, text);
  }
  for (const text of ['1', 'yes', 'on', 'true', 'TRUE']) {
    const config = load({ DYNMCP_UI: text, DYNMCP_METRICS_PUBLIC: text });
    assert.equal(config.ui.enabled, true, text);
    assert.equal(config.metrics.public, true, text);
  }
  // An empty or mistyped value (a compose file's unset `${UI}`) turns nothing on: the gateway says so at start.
  assert.throws(() => load({ DYNMCP_UI: '' }), /ui\.enabled: must be true or false/);
  assert.throws(() => load({ DYNMCP_METRICS_PUBLIC: 'disabled' }), /metrics\.public: must be true or false/);
  assert.equal(load({}).ui.enabled, false, 'unset: by environment');
  assert.equal(load({}, { 'production.json': { ui: { enabled: true }, metrics: { public: true } } }).metrics.public, true, 'JSON booleans in files');
});

test('the tools\' allow-list and egress rules are checked', () => {
  assert.throws(() => loadConfig({ env: { DYNMCP_TOOL_ENV_ALLOW: 'A-B' }, configDir: configDir({}) }), /executor\.toolEnvAllow.*"A-B"/);
  assert.throws(() => loadConfig({ env: { DYNMCP_EGRESS_DENY: '10.1' }, configDir: configDir({}) }), /executor\.egress\.deny.*"10\.1"/);
  assert.throws(() => loadConfig({ env: { DYNMCP_EGRESS_ALLOW: '10.0.0.0/33' }, configDir: configDir({}) }), /executor\.egress\.allow/);
  const ok = loadConfig({ env: { DYNMCP_EGRESS_DENY: '169.254.0.0/16,metadata.google.internal,*.internal,::1' }, configDir: configDir({}) });
  assert.deepEqual(ok.executor.egress.deny, ['169.254.0.0/16', 'metadata.google.internal', '*.internal', '::1']);
});

/** The message `loadConfig` refuses with, for assertions on its whole text. */
function refusal(options: Parameters<typeof loadConfig>[0]): string {
  try {
    loadConfig(options);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail('the configuration was accepted');
}

/** A folder holding `files` as they are written, not as JSON.stringify would write them. */
function rawConfigDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-config-'));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('JSON in an environment variable that does not parse is refused naming the setting and the variable, never echoing a secret', () => {
  const keys = refusal({ env: { DYNMCP_AUTH_KEYS: '[{id:"a"}]' }, configDir: configDir({}) });
  assert.match(keys, /^invalid configuration: auth\.keys: must be a JSON list .*this is not JSON: Expected property name or '\}' in JSON at position 2 \(from DYNMCP_AUTH_KEYS\)$/);
  const plugins = refusal({ env: { DYNMCP_PLUGINS: 'nope' }, configDir: configDir({}) });
  assert.match(plugins, /^invalid configuration: plugins: must be a JSON list .*this is not JSON: Unexpected token 'o'.*value was "nope" \(from DYNMCP_PLUGINS\)$/);
  // V8 quotes the text it could not read; auth.keys is secret, so neither the parser nor convict may.
  const secret = refusal({ env: { DYNMCP_AUTH_KEYS: 'secret-canary-4711' }, configDir: configDir({}) });
  assert.match(secret, /auth\.keys: .*not JSON.*DYNMCP_AUTH_KEYS/);
  assert.ok(!secret.includes('canary'), secret);
});

test('a configuration file that is not JSON, or names an unknown key, is refused naming the file and what to fix', () => {
  const trailingComma = rawConfigDir({ 'default.json': '{\n  "server": {\n    "port": 9000,\n  }\n}\n' });
  const comma = refusal({ env: {}, configDir: trailingComma });
  assert.ok(comma.includes(`${join(trailingComma, 'default.json')} is not valid JSON: Expected double-quoted property name`), comma);
  assert.match(comma, /\(line 4, column 3\); fix the file \(JSON allows no comments and no comma after the last entry\)/);

  const typo = configDir({ 'staging.json': { server: { prot: 9000 } } });
  const unknown = refusal({ env: { DYNMCP_ENV: 'staging' }, configDir: typo });
  assert.equal(
    unknown,
    `invalid configuration: ${join(typo, 'staging.json')}: server.prot is not a setting (did you mean server.port?); rename or remove it (docs/configuration.md lists every setting)`,
  );
  const shapes = configDir({ 'default.json': { server: 8080, log: { level: { name: 'info' } }, nonsense: true } });
  const shape = refusal({ env: {}, configDir: shapes });
  assert.match(shape, /default\.json: server is a group of settings \(host, port, .*\): give it an object/);
  assert.match(shape, /default\.json: log\.level is a setting, not a group: give it a value/);
  assert.match(shape, /default\.json: nonsense is not a setting; rename or remove it/);
  assert.match(refusal({ env: {}, configDir: rawConfigDir({ 'default.json': '[]' }) }), /default\.json must hold one JSON object of settings/);

  // A bad value from a file names the file and the variable that would override it.
  const fromFile = configDir({ 'default.json': { server: { port: 8080.5 } } });
  assert.equal(
    refusal({ env: {}, configDir: fromFile }),
    `invalid configuration: server.port: must be a port number from 0 to 65535, in digits only: no unit, sign, decimal point or exponent: value was 8080.5 (from ${join(fromFile, 'default.json')}; environment variable DYNMCP_PORT)`,
  );
});

test('an empty DYNMCP_API_KEYS is no admin key; a short admin key is refused without being quoted', () => {
  const dir = configDir({ 'development.json': { admin: { apiKeys: ['your-api-key'] } } });
  assert.deepEqual(loadConfig({ env: {}, configDir: dir }).admin.apiKeys, ['your-api-key']);
  for (const blank of ['', '   ', ' , ,']) assert.deepEqual(loadConfig({ env: { DYNMCP_API_KEYS: blank }, configDir: dir }).admin.apiKeys, [], JSON.stringify(blank));
  assert.deepEqual(loadConfig({ env: { DYNMCP_API_KEYS: ' first-admin-key , ops:second-admin-key ' }, configDir: dir }).admin.apiKeys, [
    'first-admin-key',
    'ops:second-admin-key',
  ]);

  const short = refusal({ env: { DYNMCP_API_KEYS: 'long-enough-key,k' }, configDir: dir });
  assert.equal(short, 'invalid configuration: admin.apiKeys: entry 2 is 1 character long; an admin key needs at least 8 (make a random one with: openssl rand -base64 32) (from DYNMCP_API_KEYS)');
  const inFile = configDir({ 'default.json': { admin: { apiKeys: ['seven77'] } } });
  assert.match(refusal({ env: {}, configDir: inFile }), /admin\.apiKeys: entry 1 is 7 characters long; .*\(from .*default\.json; environment variable DYNMCP_API_KEYS\)/);
  assert.ok(!refusal({ env: { DYNMCP_API_KEYS: 'seven77' }, configDir: dir }).includes('seven77'), 'a key is never quoted');
});

test('settings breaking a rule between them that the docs state are refused naming both', () => {
  const dir = configDir({});
  assert.equal(
    refusal({ env: { DYNMCP_HEADERS_TIMEOUT_MS: '60000' }, configDir: dir }),
    'invalid configuration: server.headersTimeoutMs (DYNMCP_HEADERS_TIMEOUT_MS) is 60000 but must be at most server.requestTimeoutMs (DYNMCP_REQUEST_TIMEOUT_MS), 30000: lower it, raise requestTimeoutMs, or set it to 0 to leave the headers to requestTimeoutMs',
  );
  const fromFile = configDir({ 'default.json': { server: { requestTimeoutMs: 5000, headersTimeoutMs: 6000 } } });
  assert.match(refusal({ env: {}, configDir: fromFile }), /server\.headersTimeoutMs \(DYNMCP_HEADERS_TIMEOUT_MS\) is 6000 but must be at most server\.requestTimeoutMs/);
  // Within the rule: equal, 0 (only requestTimeoutMs), no request limit, and the default under a short request timeout (lowered to it).
  assert.equal(loadConfig({ env: { DYNMCP_HEADERS_TIMEOUT_MS: '30000' }, configDir: dir }).server.headersTimeoutMs, 30000);
  assert.equal(loadConfig({ env: { DYNMCP_HEADERS_TIMEOUT_MS: '0', DYNMCP_REQUEST_TIMEOUT_MS: '5000' }, configDir: dir }).server.headersTimeoutMs, 0);
  assert.equal(loadConfig({ env: { DYNMCP_HEADERS_TIMEOUT_MS: '60000', DYNMCP_REQUEST_TIMEOUT_MS: '0' }, configDir: dir }).server.headersTimeoutMs, 60000);
  assert.equal(loadConfig({ env: { DYNMCP_REQUEST_TIMEOUT_MS: '5000' }, configDir: dir }).server.headersTimeoutMs, 10000);

  assert.equal(
    refusal({ env: { DYNMCP_REPLICA_HEARTBEAT_MS: '15000' }, configDir: dir }),
    "invalid configuration: replicas.ttlMs (DYNMCP_REPLICA_TTL_MS) is 15000 but must be more than replicas.heartbeatMs (DYNMCP_REPLICA_HEARTBEAT_MS), 15000, or a replica's entry expires between two renewals: raise ttlMs (3 times heartbeatMs is usual) or lower heartbeatMs",
  );
});

test('a missing configuration folder or environment file loads all the same', () => {
  const dir = configDir({});
  mkdirSync(join(dir, 'empty'));
  assert.equal(loadConfig({ env: { DYNMCP_CONFIG_DIR: join(dir, 'missing') } }).server.port, 8080);
  assert.equal(loadConfig({ env: { DYNMCP_ENV: 'staging' }, configDir: join(dir, 'empty') }).env, 'staging');
});
