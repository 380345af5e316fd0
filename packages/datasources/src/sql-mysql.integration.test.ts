/**
 * The SQL datasource against a real MariaDB (Debian's mariadb-server, started by the test on a
 * loopback port with its own data directory): the store contract, migrations racing, the commit
 * order of revisions, outages, killed connections and tombstone retention.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import {
  isGatewayError,
  silentLogger,
  type DataSource,
  type DataSourceHealth,
  type FeedEvent,
  type StoredRecord,
} from '@dynmcp/plugin';
import { startMariaDb, type MariaDbServer } from '@dynmcp/testing';
import { startTcpProxy, type TcpProxy } from '@dynmcp/testing';
import { createSqlDataSource, type SqlDataSourceOptions } from './index.js';
import { batchContractTests } from './test-support/batch-contract.js';
import { historyContractTests } from './test-support/history-contract.js';

let db: MariaDbServer;
const opened: DataSource[] = [];
const proxies: TcpProxy[] = [];

before(async () => {
  db = await startMariaDb();
});

after(async () => {
  await Promise.all(opened.map((ds) => ds.close()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await db?.cleanup();
});

function mysql(url: string, extra: Partial<SqlDataSourceOptions> = {}): DataSource {
  const ds = createSqlDataSource({ client: 'mysql', connection: url, logger: silentLogger, pollIntervalMs: 50, ...extra });
  opened.push(ds);
  return ds;
}

async function opening(url: string, extra: Partial<SqlDataSourceOptions> = {}): Promise<DataSource> {
  const ds = mysql(url, extra);
  await ds.open();
  return ds;
}

/** A fresh database and its name, for tests that need their own revision counter. */
async function freshDatabase(): Promise<{ url: string; name: string }> {
  const url = await db.createDatabase();
  return { url, name: new URL(url).pathname.slice(1) };
}

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function rejectsWith(code: string, check?: (error: Error & { status?: number; data?: Record<string, unknown> }) => void) {
  return (error: unknown) => {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    check?.(error);
    return true;
  };
}

/** A feed consumer like the live definitions: applies events to a map and records what it saw. */
function follow(ds: DataSource) {
  const events: FeedEvent[] = [];
  const healths: DataSourceHealth[] = [];
  const state = new Map<string, StoredRecord>();
  let revision = -1;
  const subscription = ds.watch({
    onEvent(event) {
      events.push(event);
      if (event.type === 'snapshot') {
        state.clear();
        for (const record of event.records) state.set(`${record.kind}/${record.id}`, record);
      } else {
        for (const change of event.changes) {
          if (change.type === 'delete') state.delete(`${change.kind}/${change.id}`);
          else state.set(`${change.kind}/${change.id}`, { kind: change.kind, id: change.id, value: change.value, revision: change.revision });
        }
      }
      revision = event.revision;
    },
    onHealth: (health) => healths.push(health),
  });
  return {
    events,
    healths,
    state,
    get revision() {
      return revision;
    },
    reached: (target: number, timeoutMs?: number) => until(`revision ${target}`, () => revision >= target, timeoutMs),
    changes: () => events.flatMap((event) => (event.type === 'changes' ? event.changes : [])),
    close: () => subscription.close(),
  };
}

async function storeState(ds: DataSource): Promise<Map<string, StoredRecord>> {
  const records = [...(await ds.list('tds')), ...(await ds.list('ids'))];
  return new Map(records.map((record) => [`${record.kind}/${record.id}`, record]));
}

/** A second, raw connection as root over the socket: the operator's view, or a rogue writer. */
function rootConnection(database: string) {
  return createConnection({ socketPath: db.socket, user: 'root', database, supportBigNumbers: true, bigNumberStrings: true });
}

test('the store contract round-trips on MariaDB: revisions, ifRevision, unicode, 200 KB values', async () => {
  const { url, name } = await freshDatabase();
  // A server whose default engine has no transactions: the schema must not depend on the default.
  await db.query('SET GLOBAL default_storage_engine = MyISAM');
  let ds: DataSource;
  try {
    ds = await opening(url);
  } finally {
    await db.query('SET GLOBAL default_storage_engine = InnoDB');
  }
  assert.equal(ds.name, 'mysql');
  // Connected and current: lastSyncAt is now.
  const health = ds.health();
  assert.equal(health.connected, true);
  assert.ok(Math.abs((health.lastSyncAt ?? 0) - Date.now()) < 1000);

  const unicode = { text: 'höhe ✓ 東京 😀 e\u0301', nested: { list: [1, 'two', null, true, 2.5] }, control: 'tab\tnewline\n' };
  const stored = await ds.put('tds', 'b', unicode);
  assert.deepEqual(stored, { kind: 'tds', id: 'b', value: unicode, revision: 1 });
  // Kinds and ids compare as bytes: `B` is not `b`, and they sort like SQLite.
  await ds.put('tds', 'B', 'upper');
  await ds.put('tds', 'a', 42);
  await ds.put('ids', 'b', { tools: ['b'] });
  const got = await ds.get('tds', 'b');
  assert.deepEqual(got, stored);
  assert.equal(typeof got?.revision, 'number');
  assert.equal(await ds.get('tds', 'missing'), undefined);
  assert.deepEqual(
    (await ds.list('tds')).map((record) => [record.id, record.value, record.revision]),
    [['B', 'upper', 2], ['a', 42, 3], ['b', unicode, 1]],
  );

  // About 200 KB of JSON: past TEXT's 64 KiB, well inside LONGTEXT.
  const large = { items: Array.from({ length: 2000 }, (_, i) => ({ i, name: `item-${i} ✓`, pad: 'x'.repeat(80) })) };
  assert.ok(JSON.stringify(large).length > 190_000);
  const big = await ds.put('tds', 'large', large);
  assert.deepEqual((await ds.get('tds', 'large'))?.value, large);

  // ifRevision: match, mismatch, 0 = only if absent; a tombstone counts as absent.
  await assert.rejects(ds.put('tds', 'large', 1, { ifRevision: 0 }), rejectsWith('PRECONDITION_FAILED', (error) => {
    assert.equal(error.status, 412);
    assert.equal(error.data?.currentRevision, big.revision);
  }));
  await assert.rejects(ds.put('tds', 'large', 1, { ifRevision: big.revision - 1 }), rejectsWith('PRECONDITION_FAILED'));
  await assert.rejects(ds.delete('tds', 'large', { ifRevision: 1 }), rejectsWith('PRECONDITION_FAILED'));
  const replaced = await ds.put('tds', 'large', { small: true }, { ifRevision: big.revision });
  assert.equal(replaced.revision, big.revision + 1);
  const deleted = await ds.delete('tds', 'large', { ifRevision: replaced.revision });
  assert.equal(deleted, replaced.revision + 1);
  assert.equal(await ds.get('tds', 'large'), undefined);
  assert.equal(await ds.delete('tds', 'large'), undefined, 'deleting what is gone writes nothing');
  const again = await ds.put('tds', 'large', 'back', { ifRevision: 0 });
  assert.equal(again.revision, (deleted as number) + 1);
  await assert.rejects(ds.put('tds', 'x ', 1), rejectsWith('INVALID_PAYLOAD'));

  // The schema as an operator sees it: utf8mb4 with a binary collation for records, LONGTEXT
  // values, and no per-replica state such as the Rust project dynmcp's pending/synced
  // status column.
  const root = await rootConnection(name);
  try {
    const [columns] = (await root.query(
      'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [name, 'dynmcp_records'],
    )) as unknown as [Array<{ name: string; type: string }>];
    assert.deepEqual(columns.map((column) => column.name), ['kind', 'id', 'value', 'revision', 'deleted', 'updated_at']);
    assert.equal(columns.find((column) => column.name === 'value')?.type, 'longtext');
    const [tables] = (await root.query(
      "SELECT TABLE_NAME AS name, ENGINE AS engine, TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ('dynmcp_records', 'dynmcp_revision') ORDER BY TABLE_NAME",
      [name],
    )) as unknown as [Array<{ name: string; engine: string; collation: string }>];
    // InnoDB although the server's default was MyISAM (row locks and transactions are the design).
    assert.deepEqual(tables.map((table) => [table.name, table.engine]), [['dynmcp_records', 'InnoDB'], ['dynmcp_revision', 'InnoDB']]);
    assert.equal(tables[0]?.collation, 'utf8mb4_bin');
    // The bytes on disk are the JSON text, emoji included (not `?` from a latin1 round trip).
    const [[row]] = (await root.query("SELECT value FROM dynmcp_records WHERE kind = 'tds' AND id = 'b'")) as unknown as [Array<{ value: string }>];
    assert.deepEqual(JSON.parse(row!.value), unicode);
  } finally {
    await root.end();
  }
});

test('BIGINT revisions come back as numbers, and a counter past 2^53 is refused, not rounded', async () => {
  const { url, name } = await freshDatabase();
  const ds = await opening(url);
  const root = await rootConnection(name);
  try {
    await root.query('UPDATE dynmcp_revision SET revision = ? WHERE id = 1', [String(Number.MAX_SAFE_INTEGER - 1)]);
    const last = await ds.put('tds', 'edge', 1);
    assert.equal(last.revision, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(await ds.get('tds', 'edge'), { kind: 'tds', id: 'edge', value: 1, revision: Number.MAX_SAFE_INTEGER });
    await assert.rejects(ds.put('tds', 'over', 1), rejectsWith('STORE_UNAVAILABLE', (error) => assert.match(error.message, /revision out of range/)));
    await root.query("UPDATE dynmcp_records SET revision = '9007199254740993' WHERE id = 'edge'");
    await assert.rejects(ds.get('tds', 'edge'), rejectsWith('STORE_UNAVAILABLE', (error) => assert.match(error.message, /revision out of range/)));
  } finally {
    await root.end();
  }
});

test('migrations: replicas opening a fresh database at once all succeed, and a half-done start recovers', async () => {
  const { url, name } = await freshDatabase();
  const replicas = [mysql(url), mysql(url), mysql(url)];
  await Promise.all(replicas.map((ds) => ds.open()));
  const root = await rootConnection(name);
  try {
    const count = async (sql: string) => Number(((await root.query(sql)) as unknown as [Array<{ n: unknown }>])[0][0]?.n);
    // One row per migration (records and revision, history, replicas), each applied once.
    assert.equal(await count('SELECT COUNT(*) AS n FROM dynmcp_migrations'), 3);
    assert.equal(await count('SELECT COUNT(*) AS n FROM dynmcp_migrations_lock WHERE is_locked = 0'), 1);
    assert.equal(await count('SELECT COUNT(*) AS n FROM dynmcp_migrations_lock'), 1);
    assert.equal(await count('SELECT COUNT(*) AS n FROM dynmcp_revision'), 1);
    const revisions = await Promise.all(replicas.flatMap((ds, r) => [1, 2, 3].map((i) => ds.put('tds', `r${r}-${i}`, i).then((x) => x.revision))));
    assert.deepEqual([...revisions].sort((x, y) => x - y), Array.from({ length: 9 }, (_, i) => i + 1));

    // A start that died mid-migration: its DDL done (MySQL commits DDL at once), the migration not
    // recorded, knex's lock left taken (twice, as two racing replicas leave it with plain knex).
    // The next start finishes the job and keeps the data.
    await root.query('DELETE FROM dynmcp_migrations');
    await root.query('UPDATE dynmcp_migrations_lock SET is_locked = 1');
    await root.query('INSERT INTO dynmcp_migrations_lock (is_locked) VALUES (1)');
    const survivor = await opening(url);
    assert.equal(await count('SELECT COUNT(*) AS n FROM dynmcp_migrations'), 3);
    assert.equal(await count('SELECT COUNT(*) AS n FROM dynmcp_migrations_lock WHERE is_locked = 0'), 1);
    assert.equal((await survivor.put('tds', 'next', 1)).revision, 10, 'the counter row was kept');
    assert.equal((await survivor.list('tds')).length, 10);
  } finally {
    await root.end();
  }
});

test('commit order: a transaction holding revision N commits late; no feed skips N, the next write waits', async () => {
  const { url, name } = await freshDatabase();
  const writer = await opening(url);
  const follower = await opening(url);
  const feed = follow(follower);
  await writer.put('tds', 'first', 1);
  await feed.reached(1);

  // A writer that took revision 2 under the counter's lock and has not committed yet.
  const slow = await rootConnection(name);
  try {
    await slow.beginTransaction();
    const [[counter]] = (await slow.query('SELECT revision FROM dynmcp_revision WHERE id = 1 FOR UPDATE')) as unknown as [Array<{ revision: string }>];
    const held = Number(counter!.revision) + 1;
    assert.equal(held, 2);
    await slow.query(
      "INSERT INTO dynmcp_records (kind, id, value, revision, deleted, updated_at) VALUES ('tds', 'held', '{\"held\":true}', ?, 0, ?)",
      [held, Date.now()],
    );
    await slow.query('UPDATE dynmcp_revision SET revision = ? WHERE id = 1', [held]);

    const started = Date.now();
    let laterDone = false;
    const later = writer.put('tds', 'later', 3).then((record) => {
      laterDone = true;
      return record;
    });
    await sleep(2000);
    // Neither change is visible: the follower polled all along and stayed at 1.
    assert.equal(laterDone, false, 'the later write waits for the counter lock');
    assert.equal(feed.revision, 1);
    assert.ok(!feed.state.has('tds/held') && !feed.state.has('tds/later'));
    await slow.commit();

    const record = await later;
    assert.equal(record.revision, 3);
    assert.ok(Date.now() - started >= 1900, 'the later write took its revision after the held one committed');
    await feed.reached(3);
    assert.deepEqual(
      feed.changes().filter((change) => change.revision > 1).map((change) => [change.id, change.revision]),
      [['held', 2], ['later', 3]],
    );
    assert.deepEqual(feed.state, await storeState(writer));
  } finally {
    await slow.end();
    await feed.close();
  }
});

test('MariaDB stopped and started again: health false then true, fast STORE_UNAVAILABLE, feed converges', async () => {
  const url = await db.createDatabase();
  const ds = await opening(url);
  const other = await opening(url);
  const feed = follow(ds);
  await ds.put('tds', 'before', 1);
  await feed.reached(1);

  await db.stop();
  const stoppedAt = Date.now();
  await until('health false', () => !ds.health().connected, 5000);
  for (const call of [() => ds.put('tds', 'during', 1), () => ds.get('tds', 'before'), () => ds.list('tds'), () => ds.delete('tds', 'before')]) {
    const started = Date.now();
    await assert.rejects(call(), rejectsWith('STORE_UNAVAILABLE', (error) => assert.doesNotMatch(error.message, /dynmcp:dynmcp|127\.0\.0\.1/)));
    assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`);
  }
  assert.equal(feed.healths.at(-1)?.connected, false);
  assert.equal(typeof ds.health().lastSyncAt, 'number');
  await sleep(4000);
  assert.equal(ds.health().connected, false);
  assert.ok(Date.now() - stoppedAt >= 4000, 'several seconds without the store');

  await db.start();
  await until('health true', () => ds.health().connected, 10_000);
  // The same datasource objects (their pools) work again: no restart, no new datasource.
  const after = await other.put('tds', 'after', 2);
  await feed.reached(after.revision);
  assert.deepEqual(feed.state.get('tds/after')?.value, 2);
  const own = await ds.put('tds', 'own', 3);
  await feed.reached(own.revision);
  // The cursor survived the outage: changes, not a new snapshot.
  assert.deepEqual(feed.events.map((event) => event.type).filter((type) => type === 'snapshot'), ['snapshot']);
  assert.deepEqual(feed.state, await storeState(other));
  await feed.close();
});

test('a frozen MariaDB (SIGSTOP): statements and connects give up at their time limits, then the pool recovers', async () => {
  const url = await db.createDatabase();
  const limits = { queryTimeoutMs: 1500, connectTimeoutMs: 1500, acquireTimeoutMs: 2000 };
  const ds = await opening(url, limits);
  const feed = follow(ds);
  await Promise.all(Array.from({ length: 4 }, (_, i) => ds.put('tds', `f${i}`, i)));
  await feed.reached(4);
  db.freeze();
  try {
    // Pooled connections wait on a statement that never gets an answer; new ones on a handshake.
    for (const call of [() => ds.get('tds', 'f1'), () => ds.put('tds', 'frozen', 1), () => ds.list('tds')]) {
      const started = Date.now();
      await assert.rejects(call(), rejectsWith('STORE_UNAVAILABLE'));
      // One limit (1.5 s), not two: a time-out is not retried.
      assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
    }
    await until('health false', () => !ds.health().connected, 5000);
  } finally {
    db.thaw();
  }
  await until('health true', () => ds.health().connected, 10_000);
  const record = await ds.put('tds', 'thawed', 1);
  await feed.reached(record.revision);
  assert.deepEqual(feed.state, await storeState(ds));
  // The write that timed out may or may not have landed (its COMMIT was never answered); the feed
  // agrees with the store either way.
  await feed.close();
});

test('KILL CONNECTION of every pooled connection: the next operations succeed on fresh connections', async () => {
  const { url, name } = await freshDatabase();
  const ds = await opening(url);
  const feed = follow(ds);
  // Several pooled connections, busy at once.
  await Promise.all(Array.from({ length: 6 }, (_, i) => ds.put('tds', `k${i}`, i)));
  await feed.reached(6);
  assert.ok((await db.killConnections()) > 0);
  assert.equal((await ds.get('tds', 'k1'))?.value, 1);
  assert.equal((await ds.list('tds')).length, 6);
  assert.equal((await ds.put('tds', 'k6', 6)).revision, 7);
  await feed.reached(7);

  // Killed mid-statement: a write waiting for the counter lock loses its connection; it had sent
  // no COMMIT, so it runs once more on a fresh connection and lands after the holder.
  const holder = await rootConnection(name);
  try {
    await holder.beginTransaction();
    await holder.query('SELECT revision FROM dynmcp_revision WHERE id = 1 FOR UPDATE');
    const waiting = ds.put('tds', 'killed-mid-query', 'ok');
    waiting.catch(() => undefined); // awaited below; a rejection must not go unhandled meanwhile
    await sleep(300);
    assert.ok((await db.killConnections()) > 0);
    await sleep(300);
    await holder.commit();
    assert.equal((await waiting).revision, 8);
  } finally {
    await holder.end();
  }
  await feed.reached(8);
  assert.deepEqual(feed.state, await storeState(ds));
  assert.equal(ds.health().connected, true);
  await feed.close();
});

test('tombstone retention: a feed cut off while deletes were pruned gets a snapshot; a shorter cut replays them', async () => {
  const { url, name } = await freshDatabase();
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const retention = { now, tombstoneRetentionMs: 60 * 60 * 1000 };
  const writer = await opening(url, retention);
  const writerFeed = follow(writer); // pruning runs with a feed's polls
  const proxy = await startTcpProxy(db.port);
  proxies.push(proxy);
  const laggingUrl = url.replace(`:${db.port}/`, `:${proxy.port}/`);
  const lagging = await opening(laggingUrl, retention);
  const behind = follow(lagging);
  await writer.put('tds', 'doomed', 1);
  await writer.put('tds', 'kept', 2);
  await writer.put('tds', 'short-lived', 3);
  await behind.reached(3);

  // A short partition: the delete is still there to replay.
  proxy.block();
  await until('lagging disconnected', () => !lagging.health().connected);
  assert.equal(await writer.delete('tds', 'short-lived'), 4);
  proxy.unblock();
  await behind.reached(4);
  assert.deepEqual(behind.events.at(-1)?.type, 'changes');
  assert.ok(!behind.state.has('tds/short-lived'));

  // A long one: the tombstone ages past retention and is pruned while the replica is away.
  proxy.block();
  await until('lagging disconnected', () => !lagging.health().connected);
  assert.equal(await writer.delete('tds', 'doomed'), 5);
  await writerFeed.reached(5);
  const root = await rootConnection(name);
  try {
    const counter = async () =>
      ((await root.query('SELECT revision, min_retained FROM dynmcp_revision')) as unknown as [Array<{ revision: string; min_retained: string }>])[0][0];
    const tombstones = async () => Number(((await root.query('SELECT COUNT(*) AS n FROM dynmcp_records WHERE deleted = 1')) as unknown as [Array<{ n: unknown }>])[0][0]?.n);
    assert.equal(await tombstones(), 2);
    clock += 2 * 60 * 60 * 1000;
    await until('pruned', async () => (await tombstones()) === 0);
    assert.deepEqual(await counter(), { revision: '5', min_retained: '6' });
  } finally {
    await root.end();
  }
  proxy.unblock();
  await until('lagging reconnected', () => lagging.health().connected);
  await until('snapshot after retention', () => behind.events.at(-1)?.type === 'snapshot' && behind.revision === 5);
  assert.deepEqual([...behind.state.keys()], ['tds/kept']);
  assert.deepEqual(behind.state, await storeState(writer));
  await behind.close();
  await writerFeed.close();
});

// DataSource.batch on MariaDB: two datasources (two gateways) on a fresh database each time.
batchContractTests('mariadb', async () => {
  const { url } = await freshDatabase();
  return { writer: await opening(url), replica: await opening(url) };
});

historyContractTests('mariadb', async (options) => {
  const { url } = await freshDatabase();
  return { writer: await opening(url, options), replica: await opening(url, options) };
});
