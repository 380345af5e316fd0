import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { isGatewayError, silentLogger, type DataSource } from '@dynmcp/plugin';
import { createSqlDataSource, type SqlDataSourceOptions } from './index.js';

const dirs: string[] = [];
const opened: DataSource[] = [];

after(async () => {
  await Promise.all(opened.map((ds) => ds.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempFile(...segments: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-sql-'));
  dirs.push(dir);
  return join(dir, ...(segments.length > 0 ? segments : ['store.sqlite']));
}

function sqlite(filename: string, extra: Partial<SqlDataSourceOptions> = {}): DataSource {
  const ds = createSqlDataSource({ client: 'sqlite', filename, logger: silentLogger, pollIntervalMs: 20, ...extra });
  opened.push(ds);
  return ds;
}

/** Reads the file the way an operator would, with the driver and no datasource in between. */
function inspect<T>(filename: string, read: (db: Database.Database) => T): T {
  const db = new Database(filename, { fileMustExist: true, timeout: 5000 });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function rejectsWith(code: string, check?: (error: Error & { status?: number; data?: Record<string, unknown> }) => void) {
  return (error: unknown) => {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code);
    check?.(error);
    return true;
  };
}

test('open creates the directory, the file and the schema, and is idempotent', async () => {
  const filename = tempFile('nested', 'deeper', 'store.sqlite');
  const ds = sqlite(filename);
  assert.equal(ds.name, 'sqlite');
  await ds.open();
  await ds.open();
  assert.ok(existsSync(filename));
  inspect(filename, (db) => {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((row) => row.name);
    for (const table of ['dynmcp_migrations', 'dynmcp_records', 'dynmcp_revision']) assert.ok(tables.includes(table), table);
    assert.deepEqual(db.prepare('SELECT id, revision, min_retained FROM dynmcp_revision').all(), [{ id: 1, revision: 0, min_retained: 0 }]);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'dynmcp_records'").all() as { name: string }[];
    assert.ok(indexes.some((row) => row.name === 'dynmcp_records_revision_idx'));
  });
  // Connected and current: lastSyncAt is now.
  const health = ds.health();
  assert.equal(health.connected, true);
  assert.ok(Math.abs((health.lastSyncAt ?? 0) - Date.now()) < 1000);
});

test('a SQLite path that can never hold a database is refused at once as permanent, naming it; an empty file becomes one', async () => {
  const folder = tempFile('a-folder');
  mkdirSync(folder);
  const notDatabase = tempFile('notes.txt');
  writeFileSync(notDatabase, 'these are my notes, not a database\n');
  const fileAsFolder = tempFile('plain-file');
  writeFileSync(fileAsFolder, 'x');
  const cases: Array<[string, RegExp]> = [
    [folder, /it is a folder, not a file/],
    [notDatabase, /the file there is not an SQLite database/],
    [join(fileAsFolder, 'store.sqlite'), /a part of its folder is a file, not a folder/],
  ];
  for (const [filename, problem] of cases) {
    await assert.rejects(sqlite(filename).open(), (error: unknown) => {
      assert.ok(isGatewayError(error), String(error));
      assert.equal(error.code, 'STORE_UNAVAILABLE');
      assert.deepEqual(error.data, { permanent: true }, 'retrying cannot mend it');
      assert.ok(error.message.startsWith(`SQLite database path "${filename}": `), error.message);
      assert.match(error.message, problem);
      return true;
    });
  }
  assert.equal(readFileSync(notDatabase, 'utf8'), 'these are my notes, not a database\n', 'the file is left as it was');
  const empty = tempFile('empty.sqlite');
  writeFileSync(empty, '');
  await sqlite(empty).open();
  inspect(empty, (db) => assert.ok((db.prepare("SELECT name FROM sqlite_master WHERE name = 'dynmcp_records'").all() as unknown[]).length === 1));
});

test('a second datasource on the same file finds the schema and does not migrate again', async () => {
  const filename = tempFile();
  const first = sqlite(filename);
  await first.open();
  await first.put('tds', 'a', { n: 1 });
  const migrations = () => inspect(filename, (db) => db.prepare('SELECT * FROM dynmcp_migrations').all());
  const before = migrations();
  // One row per migration: records and revision, history, replicas.
  assert.equal(before.length, 3);

  const second = sqlite(filename);
  await second.open();
  assert.deepEqual(migrations(), before);
  // The counter was not reset by a second run of the migration.
  assert.equal((await second.put('tds', 'b', { n: 2 })).revision, 2);
  assert.deepEqual(await second.get('tds', 'a'), { kind: 'tds', id: 'a', value: { n: 1 }, revision: 1 });
});

test('put, get, list and delete round-trip JSON values', async () => {
  const ds = sqlite(tempFile());
  await ds.open();
  const value = { name: 'weather', nested: { list: [1, 'two', null, true] }, unicode: 'höhe ✓' };
  const stored = await ds.put('tds', 'b', value);
  assert.deepEqual(stored, { kind: 'tds', id: 'b', value, revision: 1 });
  await ds.put('tds', 'a', 'a string');
  await ds.put('tds', 'c', 42);
  await ds.put('ids', 'a', { tools: ['b'] });

  assert.deepEqual(await ds.get('tds', 'b'), stored);
  assert.equal(await ds.get('tds', 'missing'), undefined);
  assert.deepEqual(
    (await ds.list('tds')).map((record) => [record.id, record.value, record.revision]),
    [['a', 'a string', 2], ['b', value, 1], ['c', 42, 3]],
  );
  assert.deepEqual(await ds.list('ids'), [{ kind: 'ids', id: 'a', value: { tools: ['b'] }, revision: 4 }]);

  assert.equal(await ds.delete('tds', 'b'), 5);
  assert.equal(await ds.get('tds', 'b'), undefined);
  assert.deepEqual((await ds.list('tds')).map((record) => record.id), ['a', 'c']);
  // Deleting what is not there writes nothing: the next write takes the very next revision.
  assert.equal(await ds.delete('tds', 'b'), undefined);
  assert.equal(await ds.delete('tds', 'never'), undefined);
  assert.equal((await ds.put('tds', 'b', { again: true })).revision, 6);
  assert.deepEqual(await ds.get('tds', 'b'), { kind: 'tds', id: 'b', value: { again: true }, revision: 6 });

  // The resolved value is what the store holds, not the caller's object.
  const roundTripped = await ds.put('tds', 'd', { gone: undefined, when: new Date(0) });
  assert.deepEqual(roundTripped.value, { when: '1970-01-01T00:00:00.000Z' });
});

test('revisions strictly increase across kinds', async () => {
  const ds = sqlite(tempFile());
  await ds.open();
  const revisions: number[] = [];
  for (let i = 0; i < 10; i += 1) {
    revisions.push((await ds.put(i % 2 === 0 ? 'tds' : 'ids', `r${i % 3}`, { i })).revision);
    if (i % 4 === 3) revisions.push((await ds.delete('tds', `r${i % 3}`)) ?? Number.NaN);
  }
  for (let i = 1; i < revisions.length; i += 1) assert.ok(revisions[i]! > revisions[i - 1]!, `${revisions.join(',')}`);
});

test('ifRevision guards puts and deletes', async () => {
  const ds = sqlite(tempFile());
  await ds.open();
  const created = await ds.put('tds', 'x', { v: 1 }, { ifRevision: 0 });
  await assert.rejects(
    ds.put('tds', 'x', { v: 2 }, { ifRevision: 0 }),
    rejectsWith('PRECONDITION_FAILED', (error) => {
      assert.equal(error.status, 412);
      assert.equal(error.data?.currentRevision, created.revision);
    }),
  );
  await assert.rejects(
    ds.put('tds', 'x', { v: 2 }, { ifRevision: created.revision + 7 }),
    rejectsWith('PRECONDITION_FAILED', (error) => assert.equal(error.data?.currentRevision, created.revision)),
  );
  assert.deepEqual((await ds.get('tds', 'x'))?.value, { v: 1 });
  const updated = await ds.put('tds', 'x', { v: 2 }, { ifRevision: created.revision });
  assert.ok(updated.revision > created.revision);

  await assert.rejects(ds.delete('tds', 'x', { ifRevision: created.revision }), rejectsWith('PRECONDITION_FAILED'));
  await assert.rejects(ds.put('tds', 'absent', 1, { ifRevision: 3 }), rejectsWith('PRECONDITION_FAILED', (error) => assert.equal(error.data?.currentRevision, 0)));
  const deleted = await ds.delete('tds', 'x', { ifRevision: updated.revision });
  assert.ok(deleted !== undefined && deleted > updated.revision);
  // A tombstone counts as absent.
  assert.ok((await ds.put('tds', 'x', { v: 3 }, { ifRevision: 0 })).revision > deleted);
  await assert.rejects(ds.put('tds', 'x', 1, { ifRevision: -1 }), rejectsWith('INVALID_PAYLOAD'));
});

test('keys longer than their columns are refused before the store sees them', async () => {
  const ds = sqlite(tempFile());
  await ds.open();
  await assert.rejects(ds.put('k'.repeat(17), 'x', 1), rejectsWith('INVALID_PAYLOAD'));
  await assert.rejects(ds.put('tds', 'i'.repeat(256), 1), rejectsWith('INVALID_PAYLOAD'));
  await assert.rejects(ds.delete('tds', ''), rejectsWith('INVALID_PAYLOAD'));
  assert.equal((await ds.put('tds', 'i'.repeat(255), 1)).revision, 1);
});

test('a restart on the same file keeps records and continues the revision counter', async () => {
  const filename = tempFile();
  const first = sqlite(filename);
  await first.open();
  await first.put('tds', 'kept', { a: 1 });
  await first.put('ids', 'inst', { b: 2 });
  await first.put('tds', 'gone', {});
  await first.delete('tds', 'gone');
  await first.close();
  await first.close();

  const second = sqlite(filename);
  await second.open();
  assert.deepEqual(await second.list('tds'), [{ kind: 'tds', id: 'kept', value: { a: 1 }, revision: 1 }]);
  assert.deepEqual(await second.list('ids'), [{ kind: 'ids', id: 'inst', value: { b: 2 }, revision: 2 }]);
  assert.equal((await second.put('tds', 'next', null)).revision, 5);
});

test('store failures become STORE_UNAVAILABLE without SQL text or paths', async () => {
  const notOpen = sqlite(tempFile());
  await assert.rejects(notOpen.list('tds'), rejectsWith('STORE_UNAVAILABLE', (error) => assert.equal(error.message, 'store unavailable: not open')));
  assert.equal(notOpen.health().connected, false);

  // A directory where the database file should be: open()'s error names the path for the operator
  // starting the gateway (above); what health reports, which /readyz shows anyone, does not.
  const dirPath = tempFile('occupied');
  mkdirSync(dirPath);
  const broken = sqlite(dirPath);
  await assert.rejects(broken.open(), rejectsWith('STORE_UNAVAILABLE', () => undefined));
  assert.equal(broken.health().connected, false);
  assert.equal(broken.health().reason, 'the SQLite path cannot hold a database (see the start log)');
  await assert.rejects(broken.list('tds'), rejectsWith('STORE_UNAVAILABLE', (error) => assert.doesNotMatch(error.message, /occupied|dynmcp-sql-/)));

  const filename = tempFile();
  const ds = sqlite(filename);
  await ds.open();
  await ds.put('tds', 'x', 1);
  inspect(filename, (db) => db.exec('ALTER TABLE dynmcp_records RENAME TO dynmcp_records_moved'));
  await assert.rejects(
    ds.list('tds'),
    rejectsWith('STORE_UNAVAILABLE', (error) => {
      assert.match(error.message, /^store unavailable: query failed \(SQLITE_ERROR\)$/);
      // Knex put the SQL into the driver error; it stays in the cause, for logs only.
      assert.match(String((error.cause as Error).message), /select/i);
    }),
  );
  await assert.rejects(ds.put('tds', 'y', 1), rejectsWith('STORE_UNAVAILABLE'));
  inspect(filename, (db) => db.exec('ALTER TABLE dynmcp_records_moved RENAME TO dynmcp_records'));
  assert.equal((await ds.list('tds')).length, 1);

  await ds.close();
  await assert.rejects(ds.get('tds', 'x'), rejectsWith('STORE_UNAVAILABLE', (error) => assert.equal(error.message, 'store unavailable: closed')));
  await assert.rejects(ds.open(), rejectsWith('STORE_UNAVAILABLE'));
  assert.throws(() => ds.watch({ onEvent() {} }), rejectsWith('STORE_UNAVAILABLE'));
});

test('a MySQL store that cannot be reached fails open without leaking the connection URL', async () => {
  // Holds with or without the mysql2 driver installed: "driver not installed" or "connection refused".
  const ds = createSqlDataSource({ client: 'mysql', connection: 'mysql://dynmcp:s3cret-pw@127.0.0.1:1/dynmcp', logger: silentLogger });
  opened.push(ds);
  assert.equal(ds.name, 'mysql');
  await assert.rejects(
    ds.open(),
    rejectsWith('STORE_UNAVAILABLE', (error) => assert.doesNotMatch(error.message, /s3cret|127\.0\.0\.1|mysql:/)),
  );
  assert.equal(ds.health().connected, false);
  assert.doesNotMatch(String(ds.health().reason), /s3cret/);
});
