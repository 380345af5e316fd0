// DataSource.batch of the SQLite datasource: the shared batch contract on two datasources sharing
// one database file (as two gateway processes would), and the raw rows a batch leaves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { requireBatch } from '@dynmcp/plugin';
import { batchContractTests } from './test-support/batch-contract.js';
import { sqliteFiles } from './test-support/sqlite-files.js';

const { freshFile, sqlite } = sqliteFiles('dynmcp-batch-');

batchContractTests('sqlite', async () => {
  const filename = freshFile();
  return { writer: await sqlite(filename), replica: await sqlite(filename) };
});

test('sqlite: a batch of 500 writes is one transaction: one revision in the rows, tombstones and the counter', async () => {
  const filename = freshFile();
  const ds = requireBatch(await sqlite(filename));
  await ds.put('tds', 'doomed', {});
  const operations = Array.from({ length: 500 }, (_, index) => ({ op: 'put' as const, kind: 'tds', id: `t${index}`, value: { index } }));
  const result = await ds.batch([...operations, { op: 'delete', kind: 'tds', id: 'doomed' }]);
  assert.equal(result.revision, 2);
  const db = new Database(filename, { fileMustExist: true, timeout: 5000 });
  try {
    assert.deepEqual(db.prepare('SELECT revision, deleted, COUNT(*) AS n FROM dynmcp_records GROUP BY revision, deleted').all(), [
      { revision: 2, deleted: 0, n: 500 },
      { revision: 2, deleted: 1, n: 1 },
    ]);
    assert.deepEqual(db.prepare('SELECT revision FROM dynmcp_revision').all(), [{ revision: 2 }]);
  } finally {
    db.close();
  }
});
