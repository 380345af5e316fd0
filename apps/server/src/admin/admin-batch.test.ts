// AdminService.applyBatch over a real SQLite store and the live definitions a gateway runs: one
// validated write of tools and an instance at one revision, applied as one change before it returns.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { createLiveDefinitions, createSchemaCompiler, type DefinitionsChange, type LiveDefinitions } from '@dynmcp/common';
import { createHttpExecutor } from '@dynmcp/core';
import { createSqlDataSource } from '@dynmcp/datasources';
import { createRecordingLogger, isGatewayError, silentLogger, type DataSource } from '@dynmcp/plugin';
import { createAdminService, type AdminService } from './admin-service.js';

const tool = (id: string, name = id, extra: Record<string, unknown> = {}) => ({
  id,
  name,
  description: `tool ${id}`,
  input_schema: { type: 'object', properties: {} },
  tds_ext_info: { domain: 'api.example.com', method: 'GET', path: `/${id}` },
  ...extra,
});

let dir: string;
let store: DataSource;
let definitions: LiveDefinitions;
let service: AdminService;
let changes: DefinitionsChange[];

function serviceOver(datasource: DataSource): AdminService {
  const compiler = createSchemaCompiler();
  const http = createHttpExecutor({ defaultTimeoutMs: 5000, maxResponseBytes: 1 << 20, env: {} });
  return createAdminService({ datasource, definitions, compiler, executorFor: (kind) => (kind === 'http' ? http : undefined) });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-admin-batch-'));
  store = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'db.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await store.open();
  definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  await definitions.start();
  service = serviceOver(store);
  changes = [];
  definitions.onChange((change) => changes.push(change));
});

afterEach(async () => {
  await definitions.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function rejectsWith(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

test('applyBatch writes tools and their instance at one revision and returns once this replica serves them, as one change', async () => {
  await service.putTool('old', tool('old'));
  await service.putInstance('shop', { id: 'shop', name: 'shop', tool_ids: ['old'] });
  changes.length = 0;

  const result = await service.applyBatch([
    { op: 'put', kind: 'tds', id: 'list_pets', value: tool('list_pets') },
    { op: 'put', kind: 'tds', id: 'get_pet', value: tool('get_pet') },
    { op: 'delete', kind: 'tds', id: 'old' },
    { op: 'put', kind: 'ids', id: 'shop', value: { id: 'shop', name: 'shop', tool_ids: ['list_pets', 'get_pet'] } },
  ]);
  assert.equal(result.written, true);
  assert.deepEqual(new Set(result.records.map((record) => record.revision)), new Set([result.revision]));
  assert.deepEqual(result.deleted, [{ kind: 'tds', id: 'old' }]);
  // Already applied when applyBatch resolves: read-your-writes, no polling needed.
  assert.ok(definitions.revision >= result.revision);
  assert.deepEqual(definitions.instance('shop')?.tools.map((t) => t.definition.name), ['get_pet', 'list_pets']);
  assert.equal(definitions.tool('old'), undefined);
  assert.deepEqual(changes, [{ revision: result.revision, changedInstances: ['shop'], deletedInstances: [] }]);
  for (const id of ['list_pets', 'get_pet']) assert.equal((await service.getTool(id)).record.revision, result.revision);
});

test('applyBatch validates every definition first: one bad definition names its operation and nothing is written', async () => {
  await assert.rejects(
    service.applyBatch([
      { op: 'put', kind: 'tds', id: 'good', value: tool('good') },
      { op: 'put', kind: 'tds', id: 'bad', value: tool('bad', 'not a valid name!') },
    ]),
    rejectsWith('INVALID_PAYLOAD', /^batch operation 1 \(tds "bad"\): /),
  );
  await assert.rejects(
    service.applyBatch([{ op: 'put', kind: 'tds', id: 'odd', value: tool('odd', 'odd', { kind: 'graphql' }) }]),
    rejectsWith('INVALID_PAYLOAD', /operation 0 .*unknown kind "graphql"/),
  );
  await assert.rejects(
    service.applyBatch([{ op: 'put', kind: 'ids', id: 'i', value: { id: 'other', name: 'i', tool_ids: [] } }]),
    rejectsWith('ID_MISMATCH', /operation 0 \(ids "i"\)/),
  );
  await assert.rejects(
    service.applyBatch([{ op: 'delete', kind: 'secrets' as never, id: 'x' }]),
    rejectsWith('INVALID_PAYLOAD', /kind must be one of tds, ids/),
  );
  assert.deepEqual(await service.listTools(), []);
  assert.equal(changes.length, 0);
});

test('applyBatch checks tool names against the definitions as they will be after the batch', async () => {
  await service.putTool('a', tool('a', 'search'));
  await service.putInstance('shop', { id: 'shop', name: 'shop', tool_ids: ['a', 'b'] });
  // A new tool taking a name an instance already serves: 409, nothing written.
  await assert.rejects(
    service.applyBatch([{ op: 'put', kind: 'tds', id: 'b', value: tool('b', 'search') }]),
    rejectsWith('DUPLICATE_TOOL_NAME', /instance "shop" would have two tools named "search"/),
  );
  // Two tools of one name in an instance the batch writes.
  await assert.rejects(
    service.applyBatch([
      { op: 'put', kind: 'tds', id: 'x', value: tool('x', 'same') },
      { op: 'put', kind: 'tds', id: 'y', value: tool('y', 'same') },
      { op: 'put', kind: 'ids', id: 'new', value: { id: 'new', name: 'new', tool_ids: ['x', 'y'] } },
    ]),
    rejectsWith('DUPLICATE_TOOL_NAME', /instance "new"/),
  );
  assert.equal(await store.get('tds', 'x'), undefined);
  // Renaming the old tool in the same batch resolves it.
  const result = await service.applyBatch([
    { op: 'put', kind: 'tds', id: 'a', value: tool('a', 'search_old') },
    { op: 'put', kind: 'tds', id: 'b', value: tool('b', 'search') },
  ]);
  assert.deepEqual(definitions.instance('shop')?.tools.map((t) => [t.definition.id, t.tool.revision]), [
    ['b', result.revision],
    ['a', result.revision],
  ]);
});

test('a datasource without batch(): applyBatch fails with BATCH_UNSUPPORTED (501) naming it; nothing is written', async () => {
  const { batch: _none, ...single } = store;
  const legacy = serviceOver({ ...single, name: 'file-store' });
  await assert.rejects(legacy.applyBatch([{ op: 'put', kind: 'tds', id: 'a', value: tool('a') }]), (error: unknown) => {
    assert.ok(isGatewayError(error));
    assert.equal(error.code, 'BATCH_UNSUPPORTED');
    assert.equal(error.status, 501);
    assert.match(error.message, /datasource "file-store" cannot write several definitions at one revision.*batch\(\)/);
    return true;
  });
  assert.deepEqual(await store.list('tds'), []);
});

test('a batch compiles each distinct schema once: the live definitions sharing the compiler find what the write validated', async () => {
  // The gateway gives the admin service and the live definitions one compiler (start-gateway.ts).
  const compiler = createSchemaCompiler();
  let compiles = 0;
  const counting = {
    compile(schema: Record<string, unknown>) {
      const before = compiler.size;
      const validate = compiler.compile(schema);
      if (compiler.size > before) compiles++;
      return validate;
    },
    release: (schema: Record<string, unknown>) => compiler.release(schema),
    get size() {
      return compiler.size;
    },
  };
  const live = createLiveDefinitions({ datasource: store, compiler: counting, logger: silentLogger });
  await live.start();
  try {
    const http = createHttpExecutor({ defaultTimeoutMs: 5000, maxResponseBytes: 1 << 20, env: {} });
    const shared = createAdminService({ datasource: store, definitions: live, compiler: counting, executorFor: (kind) => (kind === 'http' ? http : undefined) });
    const schema = (n: number) => ({ type: 'object', properties: { n: { type: 'integer', maximum: n } } });
    const result = await shared.applyBatch([
      { op: 'put', kind: 'tds', id: 'a', value: tool('a', 'a', { input_schema: schema(1) }) },
      { op: 'put', kind: 'tds', id: 'b', value: tool('b', 'b', { input_schema: schema(2) }) },
      // The same schema as a's, as an imported API repeats one across operations.
      { op: 'put', kind: 'tds', id: 'c', value: tool('c', 'c', { input_schema: schema(1) }) },
    ]);
    assert.ok(live.revision >= result.revision);
    assert.equal(live.tool('c')?.validateArguments({ n: 2 }), '/n must be <= 1');
    assert.equal(compiles, 2, 'validating the batch and serving it compiled each distinct schema once');
    assert.equal(compiler.size, 2, 'only the served tools hold compiled schemas once the batch is applied');

    await shared.applyBatch(['a', 'b', 'c'].map((id) => ({ op: 'delete' as const, kind: 'tds' as const, id })));
    assert.equal(compiler.size, 0, 'deleting the tools frees their schemas');
  } finally {
    await live.close();
  }
});

test('a write this replica does not apply in time is answered anyway, stored, saying applied: false, and the log says so', async () => {
  // The service writes to `store` but follows another store's feed, which never carries the write:
  // a replica whose feed has stalled.
  const other = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'other.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await other.open();
  const stalled = createLiveDefinitions({ datasource: other, compiler: createSchemaCompiler(), logger: silentLogger });
  await stalled.start();
  const log = createRecordingLogger();
  try {
    const http = createHttpExecutor({ defaultTimeoutMs: 5000, maxResponseBytes: 1 << 20, env: {} });
    const lagging = createAdminService({
      datasource: store,
      definitions: stalled,
      compiler: createSchemaCompiler(),
      executorFor: (kind) => (kind === 'http' ? http : undefined),
      applyTimeoutMs: 150,
      logger: log.logger,
    });
    const { record, meta } = await lagging.putTool('late', tool('late'));
    assert.equal((await store.get('tds', 'late'))?.revision, record.revision, 'the write is stored');
    assert.equal(meta.applied, false, 'the answer says this replica has not applied it');
    const warning = log.lines.find((line) => line.level === 'warn');
    assert.match(warning?.message ?? '', /write stored but not yet applied by this replica/);
    assert.deepEqual(warning?.meta, { revision: record.revision, applied: stalled.revision, waitedMs: 150 });

    // Every kind of write says so, each stored all the same.
    assert.equal((await lagging.putInstance('late-shop', { id: 'late-shop', name: 'late', tool_ids: ['late'] })).meta.applied, false);
    assert.equal((await lagging.deleteInstance('late-shop')).applied, false);
    const batch = await lagging.applyBatch([{ op: 'put', kind: 'tds', id: 'later', value: tool('later') }]);
    assert.equal(batch.applied, false);
    assert.equal((await store.get('tds', 'later'))?.revision, batch.revision, 'the batch is stored');
    assert.equal((await lagging.deleteTool('late')).applied, false);
    assert.equal(await store.get('tds', 'late'), undefined, 'the delete is stored');
    assert.equal(log.lines.filter((line) => line.level === 'warn').length, 5, 'one warning per write');
    // A batch that writes nothing has nothing to wait for.
    const nothing = await lagging.applyBatch([{ op: 'delete', kind: 'tds', id: 'absent' }]);
    assert.deepEqual([nothing.written, nothing.applied], [false, true]);

    // The same writes on a replica that follows the store it writes to are applied in time.
    assert.equal((await service.putTool('prompt', tool('prompt'))).meta.applied, true);
    assert.equal((await service.putInstance('shop', { id: 'shop', name: 'shop', tool_ids: ['prompt'] })).meta.applied, true);
    assert.equal((await service.applyBatch([{ op: 'put', kind: 'tds', id: 'prompt2', value: tool('prompt2') }])).applied, true);
    assert.equal((await service.deleteInstance('shop')).applied, true);
    assert.equal((await service.deleteTool('prompt')).applied, true);
  } finally {
    await stalled.close();
    await other.close();
  }
});
