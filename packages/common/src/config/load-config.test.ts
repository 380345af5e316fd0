import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './load-config.js';

function configDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-config-'));
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
