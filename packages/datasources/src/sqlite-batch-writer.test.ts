// Large SQLite batches written by the worker thread (sqlite-batch-writer.ts): the batch and history
// contracts with every batch sent to the worker, and what only the worker can get wrong: a batch of
// megabytes at one revision with its history, conflicts with the main thread's connection, close.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { isGatewayError, requireBatch } from '@dynmcp/plugin';
import { batchContractTests } from './test-support/batch-contract.js';
import { historyContractTests } from './test-support/history-contract.js';
import { sqliteFiles } from './test-support/sqlite-files.js';
import { WORKER_BATCH_BYTES } from './sqlite-batch-writer.js';

const { freshFile, sqlite } = sqliteFiles('dynmcp-batch-worker-');

// batchWorkerBytes 0: every batch, however small, goes through the worker.
batchContractTests('sqlite, batches in the worker', async () => {
  const filename = freshFile();
  return { writer: await sqlite(filename, { batchWorkerBytes: 0 }), replica: await sqlite(filename) };
});

historyContractTests('sqlite, batches in the worker', async (options) => {
  const filename = freshFile();
  return { writer: await sqlite(filename, { ...options, batchWorkerBytes: 0 }), replica: await sqlite(filename, options) };
});

/** `count` tool-sized definitions, together above the size the worker takes by default. */
function bigOperations(count: number, tag: string) {
  const padding = 'x'.repeat(Math.ceil((2 * WORKER_BATCH_BYTES) / count));
  return Array.from({ length: count }, (_, index) => ({ op: 'put' as const, kind: 'tds', id: `big.${index}`, value: { tag, index, padding } }));
}

function rows(filename: string, sql: string): unknown[] {
  const db = new Database(filename, { fileMustExist: true, readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

test('sqlite: a batch of megabytes is one transaction at one revision, with its history, and the feed sees it whole', async () => {
  const filename = freshFile();
  const ds = requireBatch(await sqlite(filename));
  const before = await ds.put('tds', 'big.0', { tag: 'old' });
  const events: Array<{ type: string; revision: number; size: number }> = [];
  const feed = ds.watch({ onEvent: (event) => events.push({ type: event.type, revision: event.revision, size: event.type === 'changes' ? event.changes.length : event.records.length }) });
  try {
    const result = await ds.batch(bigOperations(1_000, 'new'), { principal: 'ops', action: 'import' });
    assert.equal(result.revision, before.revision + 1);
    assert.equal(result.records.length, 1_000);
    assert.deepEqual((result.records[7]?.value as { index: number }).index, 7);
    assert.deepEqual(rows(filename, 'SELECT revision, COUNT(*) AS n FROM dynmcp_records GROUP BY revision'), [{ revision: result.revision, n: 1_000 }]);
    assert.deepEqual(rows(filename, "SELECT revision, COUNT(*) AS n FROM dynmcp_history WHERE principal = 'ops' AND action = 'import' GROUP BY revision"), [
      { revision: result.revision, n: 1_000 },
    ]);
    assert.deepEqual(rows(filename, 'SELECT revision FROM dynmcp_revision'), [{ revision: result.revision }]);
    const deadline = Date.now() + 5_000;
    while (!events.some((event) => event.revision === result.revision) && Date.now() < deadline) await sleep(10);
    assert.deepEqual(events.find((event) => event.revision === result.revision), { type: 'changes', revision: result.revision, size: 1_000 });
  } finally {
    await feed.close();
  }
});

test('sqlite: a refused batch of megabytes writes nothing, and says which record refused', async () => {
  const filename = freshFile();
  const ds = requireBatch(await sqlite(filename));
  const kept = await ds.put('tds', 'big.500', { tag: 'kept' });
  const operations = bigOperations(1_000, 'refused').map((operation, index) => (index === 500 ? { ...operation, ifRevision: kept.revision + 1 } : operation));
  await assert.rejects(ds.batch(operations), (error: unknown) => {
    assert.ok(isGatewayError(error));
    assert.equal(error.code, 'PRECONDITION_FAILED');
    assert.match(error.message, /big\.500/);
    assert.deepEqual(error.data, { currentRevision: kept.revision, expectedRevision: kept.revision + 1 });
    return true;
  });
  assert.deepEqual(rows(filename, 'SELECT id, revision FROM dynmcp_records'), [{ id: 'big.500', revision: kept.revision }]);
  assert.deepEqual(rows(filename, 'SELECT COUNT(*) AS n FROM dynmcp_history'), [{ n: 1 }]);
  assert.deepEqual(rows(filename, 'SELECT revision FROM dynmcp_revision'), [{ revision: kept.revision }]);
});

test('sqlite: the worker waits for a write lock another connection holds, and writers still take revisions in commit order', async () => {
  const filename = freshFile();
  const ds = requireBatch(await sqlite(filename));
  await ds.put('tds', 'first', {});
  const other = new Database(filename, { fileMustExist: true });
  other.exec('BEGIN IMMEDIATE');
  const batch = ds.batch(bigOperations(200, 'waited'));
  // Meanwhile a small write on the main thread's connection: both wait for the lock, then both land.
  const single = ds.put('tds', 'second', {});
  await sleep(300);
  other.exec('COMMIT');
  other.close();
  const [written, put] = await Promise.all([batch, single]);
  assert.notEqual(written.revision, put.revision);
  assert.deepEqual(rows(filename, 'SELECT revision FROM dynmcp_revision'), [{ revision: Math.max(written.revision, put.revision) }]);
  assert.deepEqual(rows(filename, "SELECT COUNT(*) AS n FROM dynmcp_records WHERE id LIKE 'big.%'"), [{ n: 200 }]);
});

test('sqlite: close() lets a batch under way in the worker finish whole, then ends the worker', async () => {
  const filename = freshFile();
  const ds = requireBatch(await sqlite(filename, { batchWorkerBytes: 0 }));
  await ds.batch([{ op: 'put', kind: 'tds', id: 'warm', value: {} }]);
  const batch = ds.batch(bigOperations(1_000, 'closing'));
  const outcome = batch.then(
    (result) => result.revision,
    (error: unknown) => error,
  );
  await sleep(20);
  await ds.close();
  const written = await outcome;
  const count = (rows(filename, "SELECT COUNT(*) AS n FROM dynmcp_records WHERE id LIKE 'big.%'")[0] as { n: number }).n;
  // Whole or not at all, and as the caller was told.
  if (typeof written === 'number') assert.equal(count, 1_000);
  else assert.equal(count, 0, String(written));
  await assert.rejects(ds.batch([{ op: 'put', kind: 'tds', id: 'late', value: {} }]), /closed/);
});
