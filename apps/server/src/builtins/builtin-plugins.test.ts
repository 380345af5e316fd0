import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { after, test } from 'node:test';
import { apiKeyAuthPlugin, loadConfig, oauthAuthPlugin } from '@dynmcp/common';
import { httpExecutorPlugin } from '@dynmcp/core';
import { etcdDataSourcePlugin, mysqlDataSourcePlugin, sqliteDataSourcePlugin } from '@dynmcp/datasources';
import { defineToolExecutorPlugin, GatewayError, PLUGIN_API_VERSION, readPluginOptions, silentLogger, type PluginOptionsOf } from '@dynmcp/plugin';
import { createPluginHost } from '../plugins/plugin-host.js';
import { builtinPlugins } from './index.js';

// An empty folder: no configuration files, only the defaults.
const configDir = mkdtempSync(join(tmpdir(), 'dynmcp-builtins-'));
after(() => rmSync(configDir, { recursive: true, force: true }));
const defaultConfig = () => loadConfig({ env: {}, configDir });

test('the options built from the settings pass every built-in plugin’s own check', () => {
  const entries = builtinPlugins(defaultConfig(), { HOME: '/home/dev' });
  assert.deepEqual(
    entries.map((entry) => entry.plugin.name),
    ['sqlite', 'mysql', 'etcd', 'api-key', 'oauth', 'http'],
  );
  for (const entry of entries) {
    assert.ok(entry.plugin.parseOptions, `${entry.plugin.name} declares parseOptions`);
    assert.doesNotThrow(() => entry.plugin.parseOptions?.(entry.options), entry.plugin.name);
  }
  const sqlite = sqliteDataSourcePlugin.parseOptions?.(entries[0]?.options);
  assert.ok(sqlite !== undefined && isAbsolute(sqlite.filename));
});

test('a built-in plugin refuses a wrong option, naming it (and a renamed one does not compile)', () => {
  // @ts-expect-error `fileName` is not an option of the SQLite datasource
  const renamed: PluginOptionsOf<typeof sqliteDataSourcePlugin> = { fileName: './x.sqlite' };
  assert.ok(renamed);
  const refusals: Array<[() => unknown, RegExp]> = [
    [() => sqliteDataSourcePlugin.parseOptions?.({}), /plugin "sqlite": option "filename" must be a string/],
    [() => mysqlDataSourcePlugin.parseOptions?.({ connection: 3306 }), /plugin "mysql": option "connection" must be an object/],
    [() => mysqlDataSourcePlugin.parseOptions?.({ connection: 'mysql://h/db', pool: { max: '10' } }), /option "pool\.max" must be a finite number/],
    [() => etcdDataSourcePlugin.parseOptions?.({ endpoints: ['http://127.0.0.1:2379'], prefix: '/d', tls: { caFile: 1 } }), /option "tls\.caFile" must be a string/],
    [() => apiKeyAuthPlugin.parseOptions?.({ adminKeys: [], keys: [{ id: 'a', key: 7 }] }), /plugin "api-key": option "keys\.0\.key" must be a string/],
    [() => oauthAuthPlugin.parseOptions?.({ issuer: 'https://as.example', audiences: 'x' }), /plugin "oauth": option "audiences" must be a list of strings/],
    [() => httpExecutorPlugin.parseOptions?.({ client: 'curl', defaultTimeoutMs: 1, maxResponseBytes: 1, env: {} }), /plugin "http": option "client" must be undici or got/],
  ];
  for (const [parse, message] of refusals) {
    assert.throws(parse, (error: unknown) => error instanceof GatewayError && error.code === 'PLUGIN_INVALID' && message.test(error.message));
  }
});

test('the plugin host parses a plugin’s options before create, and stops on options it refuses', async () => {
  const seen: string[] = [];
  const greeter = defineToolExecutorPlugin({
    name: 'greeter',
    version: '1.0.0',
    apiVersion: PLUGIN_API_VERSION,
    parseOptions(raw) {
      return { greeting: readPluginOptions('greeter', raw).string('greeting') };
    },
    create({ options }) {
      seen.push(options.greeting);
      return { kind: 'greet', execute: async () => ({ result: { content: [{ type: 'text', text: options.greeting }] } }) };
    },
  });
  const host = (options: unknown) => createPluginHost([{ plugin: greeter, options, source: 'test' }], silentLogger);
  const executors = await host({ greeting: 'hello' }).createToolExecutors();
  assert.deepEqual(executors.names(), ['greet']);
  assert.deepEqual(seen, ['hello']);
  await assert.rejects(host({ greting: 'hello' }).createToolExecutors(), (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'PLUGIN_INVALID');
    assert.match(error.message, /plugin "greeter": option "greeting" must be a string/);
    return true;
  });
  assert.deepEqual(seen, ['hello'], 'create never ran with options its plugin refused');
});
