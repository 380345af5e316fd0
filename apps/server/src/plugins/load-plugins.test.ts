import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MIN_PLUGIN_API_VERSION, silentLogger, PLUGIN_API_VERSION } from '@dynmcp/plugin';
import { loadPlugins } from './load-plugins.js';
import { createPluginHost } from './plugin-host.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-plugins-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a plugin module whose default export is `body` (JS source of an expression). */
function pluginModule(file: string, body: string): string {
  const path = join(dir, file);
  writeFileSync(path, `export default ${body};\n`);
  return path;
}

const executorPlugin = (name: string, apiVersion = PLUGIN_API_VERSION) => `{
  name: ${JSON.stringify(name)}, version: '1.2.3', apiVersion: ${apiVersion}, kind: 'tool-executor',
  create: ({ options }) => ({ kind: ${JSON.stringify(name)}, execute: async () => ({ result: { content: [{ type: 'text', text: String(options.greeting) }] } }) }),
}`;

/** Installs a package into `dir/node_modules` the way npm would. */
function installPackage(name: string, body: string) {
  const root = join(dir, 'node_modules', name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: { '.': './index.js' } }));
  writeFileSync(join(root, 'index.js'), `export default ${body};\n`);
}

test('loads a plugin by package name, resolved from the working directory', async () => {
  installPackage('dynmcp-plugin-greeter', executorPlugin('greeter'));
  const [entry] = await loadPlugins([{ module: 'dynmcp-plugin-greeter', options: { greeting: 'hi' } }], dir);
  assert.equal(entry?.plugin.name, 'greeter');
  assert.equal(entry?.source, 'dynmcp-plugin-greeter');
  assert.deepEqual(entry?.options, { greeting: 'hi' });
});

test('loads a plugin by path, relative or absolute, and an array of plugins from one module', async () => {
  pluginModule('two.mjs', `[${executorPlugin('one')}, ${executorPlugin('two')}]`);
  const entries = await loadPlugins([{ module: './two.mjs' }], dir);
  assert.deepEqual(entries.map((entry) => entry.plugin.name), ['one', 'two']);
  const absolute = pluginModule('abs.mjs', executorPlugin('abs'));
  assert.equal((await loadPlugins([{ module: absolute }], '/'))[0]?.plugin.name, 'abs');
});

test('a missing package stops the start with an error naming it and what to do', async () => {
  await assert.rejects(loadPlugins([{ module: 'dynmcp-plugin-nowhere' }], dir), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'PLUGIN_INVALID');
    assert.match(error.message, /"dynmcp-plugin-nowhere" is not installed.*npm install dynmcp-plugin-nowhere/);
    return true;
  });
  await assert.rejects(loadPlugins([{ module: './nope.mjs' }], dir), /"\.\/nope\.mjs" failed to load/);
});

test('a module of the wrong shape is refused with the reason', async () => {
  const cases: Array<[string, RegExp]> = [
    ['42', /is not an object/],
    [`{ name: 'x', version: '1', apiVersion: 1, kind: 'datasource' }`, /no create\(\) function/],
    [`{ name: 'x', version: '1', apiVersion: 1, kind: 'teleporter', create() {} }`, /kind "teleporter"/],
    [`{ name: 'x', apiVersion: 1, kind: 'auth', create() {} }`, /no "version"/],
  ];
  for (const [index, [body, message]] of cases.entries()) {
    const file = pluginModule(`shape-${index}.mjs`, body);
    await assert.rejects(loadPlugins([{ module: file }], dir), (error: Error) => {
      assert.match(error.message, /is not a DynMCP plugin/);
      assert.match(error.message, message);
      return true;
    });
  }
  writeFileSync(join(dir, 'no-default.mjs'), 'export const something = 1;\n');
  await assert.rejects(loadPlugins([{ module: './no-default.mjs' }], dir), /has no default export/);
});

test('a plugin needing another plugin API version is refused', async () => {
  const file = pluginModule('future.mjs', executorPlugin('future', PLUGIN_API_VERSION + 1));
  await assert.rejects(
    loadPlugins([{ module: file }], dir),
    new RegExp(`"future".*needs plugin API ${PLUGIN_API_VERSION + 1}; this gateway provides API ${PLUGIN_API_VERSION}`),
  );
});

test('a plugin written for an older plugin API still loads; one older than the minimum is refused', async () => {
  assert.ok(MIN_PLUGIN_API_VERSION < PLUGIN_API_VERSION, 'API 2 keeps loading plugins written for API 1');
  const old = pluginModule('old-api.mjs', executorPlugin('old-api', MIN_PLUGIN_API_VERSION));
  const [entry] = await loadPlugins([{ module: old }], dir);
  assert.equal(entry?.plugin.name, 'old-api');
  assert.equal(entry?.plugin.apiVersion, MIN_PLUGIN_API_VERSION);
  const ancient = pluginModule('ancient.mjs', executorPlugin('ancient', MIN_PLUGIN_API_VERSION - 1));
  await assert.rejects(
    loadPlugins([{ module: ancient }], dir),
    new RegExp(`"ancient".*needs plugin API ${MIN_PLUGIN_API_VERSION - 1}; .*loads plugins for API ${MIN_PLUGIN_API_VERSION} to ${PLUGIN_API_VERSION}`),
  );
});

test('a plugin that throws while loading is named', async () => {
  writeFileSync(join(dir, 'throws.mjs'), "throw new Error('boom at import');\n");
  await assert.rejects(loadPlugins([{ module: './throws.mjs' }], dir), /"\.\/throws\.mjs" failed to load: boom at import/);
});

test('two plugins of one kind and name are refused, naming both sources', async () => {
  const a = pluginModule('dup-a.mjs', executorPlugin('dup'));
  const b = pluginModule('dup-b.mjs', executorPlugin('dup'));
  const entries = await loadPlugins([{ module: a }, { module: b }], dir);
  assert.throws(() => createPluginHost(entries, silentLogger), (error: Error) => {
    assert.match(error.message, /two tool-executor plugins are named "dup"/);
    assert.ok(error.message.includes(a) && error.message.includes(b));
    return true;
  });
});

test('unknown datasource or auth provider names list the registered ones', async () => {
  const host = createPluginHost(await loadPlugins([{ module: pluginModule('g.mjs', executorPlugin('g')) }], dir), silentLogger);
  await assert.rejects(host.createDataSource('redis'), /unknown datasource "redis" \(registered: none\)/);
  await assert.rejects(host.createAuthProviders(['oauth']), /unknown auth provider "oauth"/);
  const executors = await host.createToolExecutors();
  assert.deepEqual(executors.names(), ['g']);
});
