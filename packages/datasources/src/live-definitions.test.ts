// The live definitions of @dynmcp/common over a real SQLite store. It lives here, not beside the live definitions,
// because the SQL datasource sits in this package, above @dynmcp/common.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { requireBatch, silentLogger, type DataSource, type Logger } from '@dynmcp/plugin';
import { createLiveDefinitions, createSchemaCompiler, type LiveDefinitions, type DefinitionsChange } from '@dynmcp/common';
import { createSqlDataSource } from './sql-datasource.js';

const tool = (id: string, name = id, extra: Record<string, unknown> = {}) => ({
  id,
  name,
  description: `tool ${id}`,
  input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
  tds_ext_info: { domain: 'api.example.com', method: 'GET', path: '/x' },
  ...extra,
});

let dir: string;
let store: DataSource;
let definitions: LiveDefinitions;
let errors: Array<{ message: string; meta?: Record<string, unknown> }>;

function capturingLogger(): Logger {
  const logger: Logger = {
    ...silentLogger,
    error: (message, meta) => errors.push({ message, meta }),
    child: () => logger,
  };
  return logger;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-definitions-'));
  errors = [];
  store = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'db.sqlite'), pollIntervalMs: 20, logger: silentLogger });
  await store.open();
  definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: capturingLogger() });
});
afterEach(async () => {
  await definitions.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function write(kind: 'tds' | 'ids', id: string, value: unknown) {
  const record = await store.put(kind, id, value);
  assert.ok(await definitions.waitForRevision(record.revision, 2000), 'definitions applied the write');
  return record;
}

test('builds instance views from the store: sorted tools, missing ids, listings', async () => {
  await store.put('tds', 'b', tool('b', 'beta'));
  await store.put('tds', 'a', tool('a', 'alpha', { title: 'Alpha', input_schema: { properties: {} } }));
  await store.put('ids', 'inst', { id: 'inst', name: 'i', tool_ids: ['b', 'ghost', 'a'] });
  await definitions.start();
  const view = definitions.instance('inst')!;
  assert.deepEqual(view.tools.map((t) => t.definition.name), ['alpha', 'beta']);
  assert.deepEqual(view.missingToolIds, ['ghost']);
  assert.equal(view.protoType, 'streamable-stateful');
  assert.deepEqual(view.listings[0], { name: 'alpha', title: 'Alpha', description: 'tool a', inputSchema: { type: 'object', properties: {} } });
  assert.equal(view.toolsByName.get('beta')?.validateArguments({ q: 1 }), '/q must be string');
  assert.equal(view.toolsByName.get('beta')?.validateArguments({ q: 'x' }), undefined);
  assert.equal(definitions.status().ready, true);
});

test('changes to a tool or an instance reach the affected instances only', async () => {
  await store.put('tds', 't1', tool('t1'));
  await store.put('tds', 't2', tool('t2'));
  await store.put('ids', 'one', { id: 'one', name: 'one', tool_ids: ['t1'] });
  await store.put('ids', 'two', { id: 'two', name: 'two', tool_ids: ['t2'] });
  await definitions.start();
  const changes: DefinitionsChange[] = [];
  definitions.onChange((change) => changes.push(change));

  await write('tds', 't1', tool('t1', 't1', { description: 'edited' }));
  assert.deepEqual(changes.at(-1)?.changedInstances, ['one']);
  assert.equal(definitions.instance('one')?.tools[0]?.definition.description, 'edited');

  await write('ids', 'two', { id: 'two', name: 'two', tool_ids: ['t2', 't1'] });
  assert.deepEqual(changes.at(-1)?.changedInstances, ['two']);
  assert.equal(definitions.instance('two')?.tools.length, 2);

  await write('tds', 't3', tool('t3'));
  assert.equal(changes.length, 2, 'a tool no instance lists changes no instance');

  const deleted = await store.delete('ids', 'one');
  await definitions.waitForRevision(deleted!, 2000);
  assert.deepEqual(changes.at(-1)?.deletedInstances, ['one']);
  assert.equal(definitions.instance('one'), undefined);

  const gone = await store.delete('tds', 't2');
  await definitions.waitForRevision(gone!, 2000);
  assert.deepEqual(definitions.instance('two')?.missingToolIds, ['t2']);
});

test('a record that is not a valid definition is logged and ignored; the last good one stays', async () => {
  await store.put('tds', 't', tool('t'));
  await store.put('ids', 'inst', { id: 'inst', name: 'i', tool_ids: ['t'] });
  await definitions.start();
  await write('tds', 't', { id: 't', name: 'not a valid name!', input_schema: {} });
  assert.equal(definitions.instance('inst')?.tools[0]?.definition.name, 't');
  await write('ids', 'inst', { id: 'inst', tool_ids: 'nope' });
  assert.deepEqual(definitions.instance('inst')?.definition.tool_ids, ['t']);
  await write('tds', 'fresh-bad', 'just a string');
  assert.equal(definitions.tool('fresh-bad'), undefined);
  assert.equal(definitions.status().invalidRecords, 3);
  assert.equal(errors.length, 3);
  assert.match(errors[0]!.message, /invalid definition/);
  assert.equal(errors[0]!.meta?.id, 't');
  // A valid write repairs it.
  await write('tds', 't', tool('t', 't_fixed'));
  assert.equal(definitions.instance('inst')?.tools[0]?.definition.name, 't_fixed');
  assert.equal(definitions.status().invalidRecords, 2);
});

test('two tools with one name in an instance (store edited by hand): the first listed wins', async () => {
  await store.put('tds', 'x', tool('x', 'same'));
  await store.put('tds', 'y', tool('y', 'same'));
  await store.put('ids', 'inst', { id: 'inst', name: 'i', tool_ids: ['y', 'x'] });
  await definitions.start();
  assert.deepEqual(definitions.instance('inst')?.tools.map((t) => t.definition.id), ['y']);
});

test('a snapshot after the live definitions started replaces everything: deletes included', async () => {
  await store.put('tds', 't', tool('t'));
  await store.put('ids', 'inst', { id: 'inst', name: 'i', tool_ids: ['t'], metadata: { proto_type: 'streamable-stateless' } });
  await definitions.start();
  assert.equal(definitions.instance('inst')?.protoType, 'streamable-stateless');
  // A second definitions on the same store after deletes behaves like a restart.
  await store.delete('tds', 't');
  const second = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  await second.start();
  assert.deepEqual(second.instance('inst')?.missingToolIds, ['t']);
  await second.close();
});

test('a batch reaches the live definitions as one change, locally and on a replica of the same file', async () => {
  await store.put('tds', 't1', tool('t1'));
  await store.put('tds', 't2', tool('t2'));
  await store.put('ids', 'shop', { id: 'shop', name: 'shop', tool_ids: ['t1', 't2'] });
  await store.put('ids', 'other', { id: 'other', name: 'other', tool_ids: ['t2'] });
  await definitions.start();
  const replicaStore = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'db.sqlite'), pollIntervalMs: 20, logger: silentLogger });
  await replicaStore.open();
  const replica = createLiveDefinitions({ datasource: replicaStore, compiler: createSchemaCompiler(), logger: silentLogger });
  await replica.start();
  const local: DefinitionsChange[] = [];
  const remote: DefinitionsChange[] = [];
  definitions.onChange((change) => local.push(change));
  replica.onChange((change) => remote.push(change));

  const result = await requireBatch(store).batch([
    { op: 'put', kind: 'tds', id: 't1', value: tool('t1', 't1', { description: 'edited' }) },
    { op: 'put', kind: 'tds', id: 't3', value: tool('t3') },
    { op: 'delete', kind: 'tds', id: 't2' },
    { op: 'put', kind: 'ids', id: 'shop', value: { id: 'shop', name: 'shop', tool_ids: ['t1', 't3'] } },
  ]);
  assert.ok(await definitions.waitForRevision(result.revision, 2000));
  assert.ok(await replica.waitForRevision(result.revision, 2000));
  await new Promise((resolve) => setTimeout(resolve, 100)); // a split batch would bring a second change now
  for (const [where, changes, live] of [['local', local, definitions], ['replica', remote, replica]] as const) {
    assert.equal(changes.length, 1, `${where}: one change for the batch`);
    assert.equal(changes[0]?.revision, result.revision);
    assert.deepEqual([...(changes[0]?.changedInstances ?? [])].sort(), ['other', 'shop'], where);
    assert.deepEqual(changes[0]?.deletedInstances, [], where);
    const shop = live.instance('shop');
    assert.deepEqual(shop?.tools.map((t) => [t.definition.id, t.definition.description, t.tool.revision]), [
      ['t1', 'edited', result.revision],
      ['t3', 'tool t3', result.revision],
    ]);
    assert.deepEqual(live.instance('other')?.missingToolIds, ['t2'], where);
  }
  await replica.close();
  await replicaStore.close();
});
