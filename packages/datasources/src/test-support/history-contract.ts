// The history contract of the datasources (DataSource.history and audit, and the history entry every
// write records in its own transaction), as tests every built-in store runs against its real store
// (SQLite in a temp file, MariaDB, etcd): the same assertions, so the stores cannot drift apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGatewayError, requireBatch, requireHistory, type DataSource, type FeedEvent, type HistoryEntry } from '@dynmcp/plugin';

/** Options every store's opener passes on to its datasources. */
export interface HistoryStoreOptions {
  now?: () => number;
  historyRetentionMs?: number;
  historyMaxVersions?: number;
}

/** Two datasources on one fresh, empty store: a writer and a replica watching it. */
export type OpenHistoryPair = (options?: HistoryStoreOptions) => Promise<{ writer: DataSource; replica: DataSource }>;

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function rejectsWith(code: string, ...inMessage: string[]) {
  return (error: unknown) => {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const text of inMessage) assert.ok(error.message.includes(text), `"${error.message}" names ${text}`);
    return true;
  };
}

const brief = (entries: HistoryEntry[]) =>
  entries.map((entry) => [entry.revision, entry.action, entry.principal ?? null, entry.deleted ? 'deleted' : entry.value]);

/** Registers the history contract tests of one store. */
export function historyContractTests(store: string, open: OpenHistoryPair): void {
  test(`${store}: every write records its history entry at its own revision; history is newest first, audit ascending`, async () => {
    const { writer, replica } = await open();
    const ds = requireHistory(writer);
    const events: FeedEvent[] = [];
    const feed = replica.watch({ onEvent: (event) => events.push(event) });
    await until('the first snapshot', () => events.length > 0);

    const v1 = await writer.put('tds', 'a', { v: 1 }, { metadata: { principal: 'alice' } });
    const other = await writer.put('tds', 'b', { v: 1 }, { metadata: { principal: 'carol' } });
    const v2 = await writer.put('tds', 'a', { v: 2 }, { ifRevision: v1.revision, metadata: { principal: 'bob', action: 'rollback' } });
    const imported = await requireBatch(writer).batch(
      [
        { op: 'put', kind: 'tds', id: 'a', value: { v: 3 } },
        { op: 'put', kind: 'ids', id: 'inst', value: { tool_ids: ['a'] } },
        { op: 'delete', kind: 'tds', id: 'never-there' },
      ],
      { principal: 'importer', action: 'import' },
    );
    const gone = (await writer.delete('tds', 'a', { metadata: { principal: 'dave' } })) as number;
    assert.equal(await writer.delete('tds', 'absent'), undefined);
    // A failed precondition writes no entry, on a single write as in a batch.
    await assert.rejects(writer.put('tds', 'b', { v: 9 }, { ifRevision: 1, metadata: { principal: 'mallory' } }), rejectsWith('PRECONDITION_FAILED'));
    await assert.rejects(
      requireBatch(writer).batch([
        { op: 'put', kind: 'tds', id: 'c', value: {} },
        { op: 'put', kind: 'tds', id: 'b', value: {}, ifRevision: 0 },
      ]),
      rejectsWith('PRECONDITION_FAILED'),
    );

    assert.deepEqual(brief(await ds.history('tds', 'a', { limit: 10 })), [
      [gone, 'delete', 'dave', 'deleted'],
      [imported.revision, 'import', 'importer', { v: 3 }],
      [v2.revision, 'rollback', 'bob', { v: 2 }],
      [v1.revision, 'put', 'alice', { v: 1 }],
    ]);
    assert.deepEqual(brief(await ds.history('tds', 'a', { limit: 2 })).map(([revision]) => revision), [gone, imported.revision]);
    assert.deepEqual(brief(await ds.history('tds', 'b', { limit: 10 })), [[other.revision, 'put', 'carol', { v: 1 }]]);
    assert.deepEqual(await ds.history('tds', 'c', { limit: 10 }), []);
    assert.deepEqual(await ds.history('tds', 'absent', { limit: 10 }), []);
    const [newest] = await ds.history('tds', 'a', { limit: 1 });
    assert.ok(newest !== undefined && newest.at > 0, 'entries carry their time');

    const audit = await ds.audit({ since: v1.revision, limit: 100 });
    assert.deepEqual(
      audit.map((entry) => [entry.revision, entry.kind, entry.id, entry.action, entry.principal ?? null, entry.deleted]),
      [
        [other.revision, 'tds', 'b', 'put', 'carol', false],
        [v2.revision, 'tds', 'a', 'rollback', 'bob', false],
        [imported.revision, 'ids', 'inst', 'import', 'importer', false],
        [imported.revision, 'tds', 'a', 'import', 'importer', false],
        [gone, 'tds', 'a', 'delete', 'dave', true],
      ],
    );
    assert.equal((await ds.audit({ since: 0, limit: 100 })).length, 6);
    assert.deepEqual((await ds.audit({ since: 0, limit: 2 })).map((entry) => entry.revision), [v1.revision, other.revision]);
    assert.deepEqual(await ds.audit({ since: gone, limit: 100 }), []);

    // History stays out of the definitions: the replica's feed and every list show records only.
    await until('the delete on the replica', () =>
      events.some((event) => event.type === 'changes' && event.changes.some((change) => change.type === 'delete')),
    );
    for (const event of events) {
      const kinds = event.type === 'snapshot' ? event.records.map((record) => record.kind) : event.changes.map((change) => change.kind);
      for (const kind of kinds) assert.ok(kind === 'tds' || kind === 'ids', `feed carries only records, saw kind ${kind}`);
    }
    assert.deepEqual((await writer.list('tds')).map((record) => record.id), ['b']);
    await feed.close();
  });

  test(`${store}: an untracked write (single or in a batch) leaves no history or audit entry, yet reaches the feed as any write`, async () => {
    const { writer, replica } = await open();
    const ds = requireHistory(writer);
    const events: FeedEvent[] = [];
    const feed = replica.watch({ onEvent: (event) => events.push(event) });
    await until('the first snapshot', () => events.length > 0);
    // Each write waits for the replica to see it: a polling feed may merge writes it finds together.
    const onReplica = (type: 'put' | 'delete', id: string, revision: number) =>
      until(`${type} of ${id} at ${revision} on the replica`, () =>
        events.some((event) => event.type === 'changes' && event.changes.some((change) => change.type === type && change.id === id && change.revision === revision)),
      );

    const tracked = await writer.put('tds', 'kept', { v: 1 }, { metadata: { principal: 'alice' } });
    const put = await writer.put('internal', 'one', { v: 1 }, { untracked: true, metadata: { principal: 'alice' } });
    await onReplica('put', 'one', put.revision);
    const replaced = await writer.put('internal', 'one', { v: 2 }, { ifRevision: put.revision, untracked: true });
    await onReplica('put', 'one', replaced.revision);
    const mixed = await requireBatch(writer).batch([
      { op: 'put', kind: 'internal', id: 'two', value: {}, untracked: true },
      { op: 'put', kind: 'tds', id: 'also-kept', value: {} },
    ]);
    await onReplica('put', 'two', mixed.revision);
    const purged = await requireBatch(writer).batch([
      { op: 'delete', kind: 'internal', id: 'two', untracked: true },
      { op: 'delete', kind: 'internal', id: 'never-there', untracked: true },
    ]);
    assert.deepEqual(purged.deleted, [{ kind: 'internal', id: 'two' }]);
    await onReplica('delete', 'two', purged.revision);
    const deleted = (await writer.delete('internal', 'one', { untracked: true })) as number;
    await onReplica('delete', 'one', deleted);

    for (const id of ['one', 'two']) assert.deepEqual(await ds.history('internal', id, { limit: 10 }), []);
    assert.deepEqual(
      (await ds.audit({ since: 0, limit: 100 })).map((entry) => [entry.revision, entry.kind, entry.id]),
      [
        [tracked.revision, 'tds', 'kept'],
        [mixed.revision, 'tds', 'also-kept'],
      ],
    );
    await feed.close();
  });

  test(`${store}: history and audit refuse a limit or since out of range`, async () => {
    const { writer } = await open();
    const ds = requireHistory(writer);
    for (const limit of [0, -1, 1.5, 10_001, Number.NaN]) {
      await assert.rejects(ds.history('tds', 'a', { limit }), rejectsWith('INVALID_PAYLOAD', 'limit'));
      await assert.rejects(ds.audit({ since: 0, limit }), rejectsWith('INVALID_PAYLOAD', 'limit'));
    }
    await assert.rejects(ds.audit({ since: -1, limit: 1 }), rejectsWith('INVALID_PAYLOAD', 'since'));
    await assert.rejects(ds.history('tds', '', { limit: 1 }), rejectsWith('INVALID_PAYLOAD', 'record id'));
  });

  test(`${store}: retention keeps at most historyMaxVersions per record, and never a live record's current version's entry`, async () => {
    let clock = 1_000_000_000_000;
    const { writer } = await open({ now: () => clock, historyRetentionMs: 10 * 60_000, historyMaxVersions: 3 });
    const ds = requireHistory(writer);
    const revisions: number[] = [];
    for (let version = 1; version <= 5; version++) {
      clock += 61_000; // past the once-a-minute throttle: every write may prune
      revisions.push((await writer.put('tds', 'a', { version })).revision);
    }
    await until('three versions kept', async () => (await ds.history('tds', 'a', { limit: 10 })).length === 3);
    assert.deepEqual(brief(await ds.history('tds', 'a', { limit: 10 })).map(([revision]) => revision), revisions.slice(2).reverse());

    // Past the age: a live record keeps its current version's entry, a deleted one loses all.
    await writer.put('tds', 'gone', { v: 1 });
    const deletedAt = await writer.delete('tds', 'gone');
    assert.equal((await ds.history('tds', 'gone', { limit: 10 }))[0]?.revision, deletedAt);
    clock += 11 * 60_000;
    const trigger = await writer.put('tds', 'other', {});
    await until('old entries pruned', async () => (await ds.history('tds', 'gone', { limit: 10 })).length === 0);
    await until('a keeps one entry', async () => (await ds.history('tds', 'a', { limit: 10 })).length === 1);
    assert.deepEqual(brief(await ds.history('tds', 'a', { limit: 10 })), [[revisions[4], 'put', null, { version: 5 }]]);
    assert.deepEqual((await ds.audit({ since: 0, limit: 100 })).map((entry) => entry.revision), [revisions[4], trigger.revision]);
  });
}
