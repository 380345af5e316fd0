// History of the SQLite datasource: the shared history contract on two datasources sharing one
// database file (as two gateway processes would), and the rows a write leaves in dynmcp_history.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { requireBatch } from '@dynmcp/plugin';
import { historyContractTests } from './test-support/history-contract.js';
import { sqliteFiles } from './test-support/sqlite-files.js';

const { freshFile, sqlite } = sqliteFiles('dynmcp-history-');

historyContractTests('sqlite', async (options) => {
  const filename = freshFile();
  return { writer: await sqlite(filename, options), replica: await sqlite(filename, options) };
});

test('sqlite: a write and its history row share one transaction and one revision; a refused batch leaves no row', async () => {
  const filename = freshFile();
  const ds = await sqlite(filename);
  await ds.put('tds', 'a', { v: 1 }, { metadata: { principal: 'alice' } });
  const batch = await requireBatch(ds).batch(
    [
      { op: 'put', kind: 'tds', id: 'b', value: { v: 1 } },
      { op: 'delete', kind: 'tds', id: 'a' },
    ],
    { principal: 'bob', action: 'import' },
  );
  await assert.rejects(requireBatch(ds).batch([{ op: 'put', kind: 'tds', id: 'b', value: {}, ifRevision: 1 }]));
  const db = new Database(filename, { fileMustExist: true, timeout: 5000 });
  try {
    assert.deepEqual(db.prepare('SELECT kind, id, revision, value, deleted, principal, action FROM dynmcp_history ORDER BY revision, id').all(), [
      { kind: 'tds', id: 'a', revision: 1, value: '{"v":1}', deleted: 0, principal: 'alice', action: 'put' },
      { kind: 'tds', id: 'a', revision: batch.revision, value: null, deleted: 1, principal: 'bob', action: 'import' },
      { kind: 'tds', id: 'b', revision: batch.revision, value: '{"v":1}', deleted: 0, principal: 'bob', action: 'import' },
    ]);
    // Each history row beside the record row it describes, written at the same revision.
    assert.deepEqual(db.prepare('SELECT revision FROM dynmcp_records WHERE id = ?').get('b'), { revision: batch.revision });
  } finally {
    db.close();
  }
});
