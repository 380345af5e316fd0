import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
    'default.json': { server: { port: 9000 }, admin: { apiKeys: ['a'] } },
    'staging.json': { server: { port: 9100, host: '0.0.0.0' } },
  });
  const config = loadConfig({
    env: { DYNMCP_ENV: 'staging', DYNMCP_PORT: '9200', DYNMCP_API_KEYS: 'k1,k2', DYNMCP_DATASOURCE: 'mysql' },
    configDir: dir,
  });
  assert.equal(config.server.port, 9200);
  assert.equal(config.server.host, '0.0.0.0');
  assert.deepEqual(config.admin.apiKeys, ['k1', 'k2']);
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
