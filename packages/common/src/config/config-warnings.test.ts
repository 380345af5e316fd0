import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { closestName } from './closest-name.js';
import { loadConfig, type LoadConfigOptions } from './load-config.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-config-warnings-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'default.json'), '{}');
writeFileSync(join(dir, 'production.json'), '{}');

/** The warnings a load reports, as [message, meta]. */
function warningsOf(options: LoadConfigOptions): Array<[string, Record<string, unknown>]> {
  const warnings: Array<[string, Record<string, unknown>]> = [];
  loadConfig({ configDir: dir, ...options, onWarning: (message, meta) => warnings.push([message, meta]) });
  return warnings;
}

const UNKNOWN = 'an environment variable starting with DYNMCP_ is not a setting and is ignored; check its spelling (docs/configuration.md lists every variable)';

test('a misspelt DYNMCP_ variable is reported with the name most likely meant, once each', () => {
  assert.deepEqual(warningsOf({ env: { DYNMCP_LOGLEVEL: 'debug', DYNMCP_UPSTREAM_TIMEOUT: '5000', DYNMCP_NONSENSE_THING: '1', dynmcp_port: '9000' } }), [
    [UNKNOWN, { variable: 'DYNMCP_LOGLEVEL', didYouMean: 'DYNMCP_LOG_LEVEL' }],
    [UNKNOWN, { variable: 'DYNMCP_NONSENSE_THING' }],
    [UNKNOWN, { variable: 'DYNMCP_UPSTREAM_TIMEOUT', didYouMean: 'DYNMCP_UPSTREAM_TIMEOUT_MS' }],
    [UNKNOWN, { variable: 'dynmcp_port', didYouMean: 'DYNMCP_PORT' }],
  ]);
});

test("DYNMCP_API_KEY without DYNMCP_API_KEYS is reported as the CLI's variable, not the server's", () => {
  for (const keys of [undefined, '', ' , ']) {
    assert.deepEqual(warningsOf({ env: { DYNMCP_API_KEY: 'an-admin-key-0001', DYNMCP_API_KEYS: keys } }), [
      [
        "DYNMCP_API_KEY is not read by the server (it is the dynmcp CLI's key): the server reads its admin keys from DYNMCP_API_KEYS",
        { variable: 'DYNMCP_API_KEY', didYouMean: 'DYNMCP_API_KEYS' },
      ],
    ], JSON.stringify(keys));
  }
  // Both set: the shell of someone who runs the server and uses the CLI against it.
  assert.deepEqual(warningsOf({ env: { DYNMCP_API_KEY: 'an-admin-key-0001', DYNMCP_API_KEYS: 'an-admin-key-0001' } }), []);
});

test('settings, the CLI\'s variables and the others the project reads on purpose are not reported', () => {
  const env = {
    DYNMCP_PORT: '9000',
    DYNMCP_LOG_LEVEL: 'debug',
    DYNMCP_CONFIG_DIR: dir,
    DYNMCP_URL: 'http://127.0.0.1:9000',
    DYNMCP_PROFILE: 'staging',
    DYNMCP_LB_BIND: ':8080',
    DYNMCP_GW1: '10.0.0.11:8080',
    DYNMCP_TOOLS_CACHE: '/tmp/tools',
    PATH: '/usr/bin',
    OTEL_SERVICE_NAME: 'dynmcp',
  };
  assert.deepEqual(warningsOf({ env, configDir: undefined }), []);
  assert.deepEqual(warningsOf({ env: {} }), []);
});

test('a DYNMCP_ENV without its file, or a DYNMCP_CONFIG_DIR that does not exist, is reported but loads', () => {
  assert.deepEqual(warningsOf({ env: { DYNMCP_ENV: 'prodution' } }), [
    [
      'DYNMCP_ENV names an environment without a configuration file: only default.json and DYNMCP_* variables apply; check its spelling or add the file',
      { env: 'prodution', file: join(dir, 'prodution.json') },
    ],
  ]);
  assert.deepEqual(warningsOf({ env: { DYNMCP_ENV: 'production' } }), []);
  const missing = join(dir, 'no-such-folder');
  assert.deepEqual(warningsOf({ env: { DYNMCP_CONFIG_DIR: missing, DYNMCP_ENV: 'production' }, configDir: undefined }), [
    [
      'the configuration folder does not exist: no configuration file is read, only the defaults and DYNMCP_* variables apply; check DYNMCP_CONFIG_DIR',
      { configDir: missing },
    ],
  ]);
  // A file is no folder either.
  assert.equal(warningsOf({ env: { DYNMCP_CONFIG_DIR: join(dir, 'default.json') }, configDir: undefined }).length, 1);
});

test('closestName suggests near names only', () => {
  assert.equal(closestName('server.prot', ['server.port', 'server.host']), 'server.port');
  assert.equal(closestName('DYNMCP_API_KEYZ', ['DYNMCP_API_KEYS', 'DYNMCP_PORT']), 'DYNMCP_API_KEYS');
  assert.equal(closestName('DYNMCP_SOMETHING_ELSE', ['DYNMCP_PORT', 'DYNMCP_HOST']), undefined);
  assert.equal(closestName('x', []), undefined);
});
