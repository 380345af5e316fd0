import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  silentLogger,
  type DataSource,
  type DataSourceHealth,
  type FeedEvent,
  type Logger,
  type StoredRecord,
} from '@dynmcp/plugin';
import { createSqlDataSource, type SqlDataSourceOptions } from './index.js';

const dirs: string[] = [];
const opened: DataSource[] = [];

after(async () => {
  await Promise.all(opened.map((ds) => ds.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-sql-feed-'));
  dirs.push(dir);
  return join(dir, 'store.sqlite');
}

async function sqlite(filename: string, extra: Partial<SqlDataSourceOptions> = {}): Promise<DataSource> {
  const ds = createSqlDataSource({ client: 'sqlite', filename, logger: silentLogger, pollIntervalMs: 20, ...extra });
  opened.push(ds);
  await ds.open();
  return ds;
}

function inspect<T>(filename: string, read: (db: Database.Database) => T): T {
  const db = new Database(filename, { fileMustExist: true, timeout: 5000 });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A feed consumer like the live definitions: applies events to a map and records what it saw. */
function follow(ds: DataSource) {
  const events: FeedEvent[] = [];
  const healths: DataSourceHealth[] = [];
  const state = new Map<string, StoredRecord>();
  let revision = -1;
  let delivering = false;
  const subscription = ds.watch({
    onEvent(event) {
      assert.equal(delivering, false, 'events are never delivered concurrently');
      delivering = true;
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
      delivering = false;
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
    reached: (target: number) => until(`revision ${target}`, () => revision >= target),
    changes: () => events.flatMap((event) => (event.type === 'changes' ? event.changes : [])),
    close: () => subscription.close(),
  };
}

async function storeState(ds: DataSource): Promise<Map<string, StoredRecord>> {
  const records = [...(await ds.list('tds')), ...(await ds.list('ids'))];
  return new Map(records.map((record) => [`${record.kind}/${record.id}`, record]));
}

test('a feed starts with a consistent snapshot of every kind, then delivers changes in order', async () => {
  const ds = await sqlite(tempFile());
  await ds.put('tds', 'b', { n: 1 });
  await ds.put('ids', 'i', { tools: ['b'] });
  await ds.put('tds', 'a', { n: 2 });
  await ds.put('tds', 'gone', {});
  await ds.delete('tds', 'gone');
  const feed = follow(ds);
  await feed.reached(5);
  assert.deepEqual(feed.events[0], {
    type: 'snapshot',
    revision: 5,
    records: [
      { kind: 'ids', id: 'i', value: { tools: ['b'] }, revision: 2 },
      { kind: 'tds', id: 'a', value: { n: 2 }, revision: 3 },
      { kind: 'tds', id: 'b', value: { n: 1 }, revision: 1 },
    ],
  });
  await ds.put('tds', 'c', { n: 3 });
  await ds.delete('tds', 'a');
  await feed.reached(7);
  assert.deepEqual(feed.changes(), [
    { type: 'put', kind: 'tds', id: 'c', value: { n: 3 }, revision: 6 },
    { type: 'delete', kind: 'tds', id: 'a', revision: 7 },
  ]);
  assert.deepEqual(feed.state, await storeState(ds));
});

test('a write through one replica reaches the other replica as changes, deletes included', async () => {
  const filename = tempFile();
  const a = await sqlite(filename);
  const b = await sqlite(filename);
  const feed = follow(b);
  await until('snapshot', () => feed.events.length > 0);

  await a.put('tds', 'x', { v: 1 });
  await a.put('ids', 'inst', { tools: ['x'] });
  await feed.reached(2);
  await a.delete('tds', 'x');
  await a.put('tds', 'y', { v: 2 });
  await a.put('tds', 'y', { v: 3 });
  await feed.reached(5);

  const changes = feed.changes();
  assert.ok(changes.some((change) => change.type === 'delete' && change.kind === 'tds' && change.id === 'x'));
  const revisions = changes.map((change) => change.revision);
  assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y), 'changes arrive in revision order');
  assert.equal(new Set(revisions).size, revisions.length);
  assert.deepEqual(feed.events.slice(1).map((event) => event.type), feed.events.slice(1).map(() => 'changes'));
  assert.deepEqual(feed.state, await storeState(a));
  assert.deepEqual(feed.state.get('tds/y')?.value, { v: 3 });
});

test('concurrent writes from two replicas get unique revisions and both feeds converge', async () => {
  const filename = tempFile();
  const a = await sqlite(filename);
  const b = await sqlite(filename);
  const feedA = follow(a);
  const feedB = follow(b);
  const writes: Promise<number | undefined>[] = [];
  for (let i = 0; i < 50; i += 1) {
    // Overlapping ids, so the replicas overwrite and delete each other's records.
    writes.push(a.put('tds', `t${i % 12}`, { from: 'a', i }).then((record) => record.revision));
    writes.push(b.put(i % 5 === 0 ? 'ids' : 'tds', `t${(i * 7) % 12}`, { from: 'b', i }).then((record) => record.revision));
    if (i % 10 === 9) writes.push(b.delete('tds', `t${i % 12}`));
  }
  const revisions = (await Promise.all(writes)).filter((revision): revision is number => revision !== undefined);
  assert.ok(revisions.length >= 100);
  assert.equal(new Set(revisions).size, revisions.length, 'every write has its own revision');
  const head = Math.max(...revisions);
  await feedA.reached(head);
  await feedB.reached(head);
  const expected = await storeState(a);
  assert.deepEqual(feedA.state, expected);
  assert.deepEqual(feedB.state, expected);
  assert.deepEqual(await storeState(b), expected);
  for (const feed of [feedA, feedB]) {
    const seen = feed.changes().map((change) => change.revision);
    for (let i = 1; i < seen.length; i += 1) assert.ok(seen[i]! > seen[i - 1]!, 'feed revisions increase');
  }
});

test('a local write reaches the local feed at once, not after the poll interval', async () => {
  const ds = await sqlite(tempFile(), { pollIntervalMs: 5000 });
  const feed = follow(ds);
  await until('snapshot', () => feed.events.length > 0);
  const started = Date.now();
  const { revision } = await ds.put('tds', 'fast', { v: 1 });
  await until('local change', () => feed.revision >= revision, 1000);
  assert.ok(Date.now() - started < 500, `seen after ${Date.now() - started} ms`);
  await ds.delete('tds', 'fast');
  await until('local delete', () => !feed.state.has('tds/fast'), 1000);
});

test('tombstones are pruned after retention and a feed behind min_retained gets a fresh snapshot', async () => {
  const filename = tempFile();
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const writer = await sqlite(filename, { now, tombstoneRetentionMs: 60 * 60 * 1000, pollIntervalMs: 10 });
  // The lagging replica polls rarely, so its cursor stays behind while the writer prunes.
  const lagging = await sqlite(filename, { now, tombstoneRetentionMs: 60 * 60 * 1000, pollIntervalMs: 60_000 });
  await writer.put('tds', 'doomed', { v: 1 });
  await writer.put('tds', 'kept', { v: 2 });
  const behind = follow(lagging);
  await behind.reached(2);

  const deleted = await writer.delete('tds', 'doomed');
  assert.equal(deleted, 3);
  const active = follow(writer);
  await active.reached(3);
  const tombstones = () => inspect(filename, (db) => db.prepare('SELECT COUNT(*) AS n FROM dynmcp_records WHERE deleted = 1').get() as { n: number });
  // Young tombstones stay.
  await sleep(50);
  assert.equal(tombstones().n, 1);

  clock += 2 * 60 * 60 * 1000;
  await until('prune', () => tombstones().n === 0);
  assert.deepEqual(inspect(filename, (db) => db.prepare('SELECT revision, min_retained FROM dynmcp_revision').get()), { revision: 3, min_retained: 4 });

  // The lagging replica's cursor (2) predates min_retained: it cannot replay the delete, so it
  // gets a snapshot, which drops the record all the same.
  const { revision } = await lagging.put('ids', 'after', {});
  await behind.reached(revision);
  const last = behind.events.at(-1);
  assert.equal(last?.type, 'snapshot');
  assert.deepEqual([...behind.state.keys()].sort(), ['ids/after', 'tds/kept']);
  assert.deepEqual(behind.state, await storeState(writer));
});

test('a feed started before open() reports the store not open, then delivers once it is', async () => {
  const ds = createSqlDataSource({ client: 'sqlite', filename: tempFile(), logger: silentLogger, pollIntervalMs: 5 });
  opened.push(ds);
  const feed = follow(ds);
  await sleep(30);
  assert.equal(feed.events.length, 0);
  assert.deepEqual(ds.health(), { connected: false, reason: 'not open' });
  await ds.open();
  await until('snapshot', () => feed.events.length > 0);
  assert.deepEqual(
    feed.healths.map((health) => ({ ...health, lastSyncAt: typeof health.lastSyncAt })),
    [{ connected: true, lastSyncAt: 'number' }],
  );
  assert.deepEqual(feed.events[0], { type: 'snapshot', revision: 0, records: [] });
});

test('a consumer that throws does not stop its feed', async () => {
  const filename = tempFile();
  const ds = await sqlite(filename);
  const errors: string[] = [];
  const logger: Logger = { ...silentLogger, error: (message) => errors.push(message), child: () => logger };
  const picky = await sqlite(filename, { logger });
  const seen: FeedEvent[] = [];
  const subscription = picky.watch({
    onEvent(event) {
      seen.push(event);
      if (seen.length === 1) throw new Error('consumer bug');
    },
  });
  await until('snapshot', () => seen.length === 1);
  await ds.put('tds', 'x', 1);
  await until('change', () => seen.length === 2);
  assert.equal(seen[1]?.type, 'changes');
  assert.deepEqual(errors, ['feed consumer failed']);
  await subscription.close();
});

test('closing stops the polls: no events after close', async () => {
  const filename = tempFile();
  const writer = await sqlite(filename);
  const watched = await sqlite(filename, { pollIntervalMs: 5 });
  const viaDataSource = follow(watched);
  const other = await sqlite(filename, { pollIntervalMs: 5 });
  const viaSubscription = follow(other);
  await writer.put('tds', 'one', 1);
  await viaDataSource.reached(1);
  await viaSubscription.reached(1);

  await Promise.all([watched.close(), viaSubscription.close()]);
  await watched.close();
  const counts = [viaDataSource.events.length, viaSubscription.events.length];
  await writer.put('tds', 'two', 2);
  await writer.delete('tds', 'one');
  await sleep(100);
  assert.deepEqual([viaDataSource.events.length, viaSubscription.events.length], counts);
  assert.equal(watched.health().connected, false);
});

test('a failing poll marks the store disconnected once and the next good poll reconnects', async () => {
  const filename = tempFile();
  const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    error: (message, meta) => lines.push({ level: 'error', message, meta }),
    warn: (message, meta) => lines.push({ level: 'warn', message, meta }),
    info: (message, meta) => lines.push({ level: 'info', message, meta }),
    debug: () => {},
    child: () => logger,
  };
  const ds = await sqlite(filename, { logger, pollIntervalMs: 5 });
  const feed = follow(ds);
  await until('snapshot', () => feed.events.length > 0);
  assert.equal(ds.health().connected, true);
  assert.equal(typeof ds.health().lastSyncAt, 'number');

  // Every poll reads the counter first; without its table the poll fails.
  inspect(filename, (db) => db.exec('ALTER TABLE dynmcp_revision RENAME TO dynmcp_revision_moved'));
  await until('disconnected', () => !ds.health().connected);
  await sleep(60);
  const down = ds.health();
  assert.equal(down.reason, 'query failed (SQLITE_ERROR)');
  assert.equal(typeof down.lastSyncAt, 'number');
  assert.deepEqual(feed.healths, [down]);
  assert.equal(lines.filter((line) => line.message === 'store unreachable').length, 1, 'logged once, not per poll');

  inspect(filename, (db) => db.exec('ALTER TABLE dynmcp_revision_moved RENAME TO dynmcp_revision'));
  await until('reconnected', () => ds.health().connected);
  await ds.put('tds', 'after', {});
  await until('change after recovery', () => feed.state.has('tds/after'));
  assert.equal(feed.healths.length, 2);
  assert.equal(feed.healths[1]?.connected, true);
  assert.equal(lines.filter((line) => line.message === 'store reachable').length, 1);
  assert.ok(lines.every((line) => !JSON.stringify(line).toLowerCase().includes('select')));
});

test('two processes on one file: concurrent writes serialise and the feed converges', async () => {
  const filename = tempFile();
  const parent = await sqlite(filename);
  const feed = follow(parent);
  const moduleUrl = new URL('./sql-datasource.ts', import.meta.url).href;
  const script = `
    const { createSqlDataSource } = await import(${JSON.stringify(moduleUrl)});
    const logger = { error() {}, warn() {}, info() {}, debug() {}, child() { return logger; } };
    const ds = createSqlDataSource({ client: 'sqlite', filename: ${JSON.stringify(filename)}, logger });
    await ds.open();
    console.log('ready');
    process.stdin.once('data', async () => {
      const revisions = await Promise.all(Array.from({ length: 40 }, (_, i) => ds.put('tds', 'p' + (i % 9), { from: 'child', i }).then((r) => r.revision)));
      await ds.close();
      console.log(JSON.stringify(revisions));
      process.exit(0);
    });`;
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  assert.equal((await lines.next()).value, 'ready');
  child.stdin.write('go\n');
  const mine = await Promise.all(Array.from({ length: 40 }, (_, i) => parent.put('tds', `p${i % 9}`, { from: 'parent', i }).then((r) => r.revision)));
  const theirs = JSON.parse(String((await lines.next()).value)) as number[];
  child.stdin.end();

  const all = [...mine, ...theirs];
  assert.equal(new Set(all).size, 80, 'no revision taken twice across processes');
  assert.deepEqual([...all].sort((x, y) => x - y), Array.from({ length: 80 }, (_, i) => i + 1));
  await feed.reached(80);
  assert.deepEqual(feed.state, await storeState(parent));
});
