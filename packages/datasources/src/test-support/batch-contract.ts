// The contract of DataSource.batch, as tests every built-in store runs against its real store
// (SQLite in a temp file, MariaDB, etcd): the same assertions, so the stores cannot drift apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isGatewayError,
  requireBatch,
  type BatchingDataSource,
  type Change,
  type DataSource,
  type FeedEvent,
} from '@dynmcp/plugin';

/** Two datasources on one fresh, empty store: a writer and a replica watching it. */
export type OpenPair = () => Promise<{ writer: DataSource; replica: DataSource }>;

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The replica's feed, recorded once its first snapshot arrived. */
async function follow(replica: DataSource) {
  const events: FeedEvent[] = [];
  const subscription = replica.watch({ onEvent: (event) => events.push(event) });
  await until('the first snapshot', () => events.length > 0);
  return {
    changes: () => events.filter((event): event is Extract<FeedEvent, { type: 'changes' }> => event.type === 'changes'),
    close: () => subscription.close(),
  };
}

const byKey = (a: { kind: string; id: string }, b: { kind: string; id: string }) =>
  `${a.kind}/${a.id}`.localeCompare(`${b.kind}/${b.id}`);

function rejectsWith(code: string, ...inMessage: string[]) {
  return (error: unknown) => {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const text of inMessage) assert.ok(error.message.includes(text), `"${error.message}" names ${text}`);
    return true;
  };
}

/** Registers the batch contract tests of one store. */
export function batchContractTests(store: string, open: OpenPair): void {
  test(`${store}: a batch writes every record at one revision, and a replica's feed gets it as one event`, async () => {
    const { writer, replica } = await open();
    const ds: BatchingDataSource = requireBatch(writer);
    await writer.put('tds', 'old', { v: 0 });
    const kept = await writer.put('tds', 'kept', { v: 0 });
    const feed = await follow(replica);

    const result = await ds.batch([
      { op: 'put', kind: 'tds', id: 'a', value: { v: 1 } },
      { op: 'put', kind: 'tds', id: 'kept', value: { v: 2 }, ifRevision: kept.revision },
      { op: 'put', kind: 'ids', id: 'inst', value: { tool_ids: ['a', 'kept'] }, ifRevision: 0 },
      { op: 'delete', kind: 'tds', id: 'old' },
    ]);
    assert.equal(result.written, true);
    assert.ok(result.revision > kept.revision);
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.id, record.revision]),
      [['tds', 'a', result.revision], ['tds', 'kept', result.revision], ['ids', 'inst', result.revision]],
    );
    assert.deepEqual(result.records[2]?.value, { tool_ids: ['a', 'kept'] });
    assert.deepEqual(result.deleted, [{ kind: 'tds', id: 'old' }]);
    // Read back: one revision on every record (their ETag), the deleted one gone.
    for (const [kind, id] of [['tds', 'a'], ['tds', 'kept'], ['ids', 'inst']] as const) {
      assert.equal((await writer.get(kind, id))?.revision, result.revision, `${kind}/${id}`);
    }
    assert.equal(await writer.get('tds', 'old'), undefined);

    await until('the batch on the replica', () => feed.changes().length > 0);
    await sleep(100); // a split batch would bring a second event now
    const events = feed.changes();
    assert.equal(events.length, 1, 'one changes event for the batch');
    const event = events[0] as Extract<FeedEvent, { type: 'changes' }>;
    assert.equal(event.revision, result.revision);
    const changes = [...event.changes].sort(byKey);
    assert.deepEqual(
      changes.map((change: Change) => [change.type, change.kind, change.id, change.revision]),
      [
        ['put', 'ids', 'inst', result.revision],
        ['put', 'tds', 'a', result.revision],
        ['put', 'tds', 'kept', result.revision],
        ['delete', 'tds', 'old', result.revision],
      ],
    );
    // The next write takes the next revision: the batch used exactly one.
    assert.equal((await writer.put('tds', 'next', {})).revision, result.revision + 1);
    await feed.close();
  });

  test(`${store}: a failed precondition anywhere in a batch writes nothing and names the record`, async () => {
    const { writer, replica } = await open();
    const ds = requireBatch(writer);
    const a = await writer.put('tds', 'a', { v: 1 });
    const b = await writer.put('tds', 'b', { v: 1 });
    const feed = await follow(replica);

    await assert.rejects(
      ds.batch([
        { op: 'put', kind: 'tds', id: 'a', value: { v: 2 }, ifRevision: a.revision },
        { op: 'delete', kind: 'tds', id: 'gone-never' },
        { op: 'put', kind: 'tds', id: 'new', value: { v: 2 } },
        { op: 'put', kind: 'tds', id: 'b', value: { v: 2 }, ifRevision: a.revision },
      ]),
      rejectsWith('PRECONDITION_FAILED', "tds 'b'", `is at revision ${b.revision}, not ${a.revision}`),
    );
    await assert.rejects(
      ds.batch([
        { op: 'put', kind: 'tds', id: 'new', value: { v: 2 } },
        { op: 'put', kind: 'tds', id: 'a', value: { v: 3 }, ifRevision: 0 },
      ]),
      rejectsWith('PRECONDITION_FAILED', "tds 'a'", 'already exists'),
    );
    await assert.rejects(
      ds.batch([
        { op: 'delete', kind: 'tds', id: 'a' },
        { op: 'delete', kind: 'tds', id: 'ghost', ifRevision: 5 },
      ]),
      rejectsWith('PRECONDITION_FAILED', "tds 'ghost'", 'does not exist'),
    );
    assert.deepEqual(await writer.get('tds', 'a'), { ...a, value: { v: 1 } });
    assert.deepEqual(await writer.get('tds', 'b'), { ...b, value: { v: 1 } });
    assert.equal(await writer.get('tds', 'new'), undefined);
    // No revision was taken, and the replica's next event is the next write alone.
    const next = await writer.put('tds', 'c', {});
    assert.equal(next.revision, b.revision + 1);
    await until('the next write on the replica', () => feed.changes().length > 0);
    assert.deepEqual(
      feed.changes().flatMap((event) => event.changes.map((change) => `${change.kind}/${change.id}`)),
      ['tds/c'],
    );
    await feed.close();
  });

  test(`${store}: deletes of absent records are ignored; an empty batch returns the current revision`, async () => {
    const { writer } = await open();
    const ds = requireBatch(writer);
    const a = await writer.put('tds', 'a', {});

    const empty = await ds.batch([]);
    assert.deepEqual(empty, { revision: a.revision, written: false, records: [], deleted: [] });
    const absent = await ds.batch([
      { op: 'delete', kind: 'tds', id: 'ghost' },
      { op: 'delete', kind: 'ids', id: 'ghost', ifRevision: 0 },
    ]);
    assert.deepEqual(absent, { revision: a.revision, written: false, records: [], deleted: [] });

    const mixed = await ds.batch([
      { op: 'delete', kind: 'tds', id: 'ghost' },
      { op: 'delete', kind: 'tds', id: 'a', ifRevision: a.revision },
    ]);
    assert.equal(mixed.written, true);
    assert.equal(mixed.revision, a.revision + 1);
    assert.deepEqual(mixed.deleted, [{ kind: 'tds', id: 'a' }]);
    assert.equal(await writer.get('tds', 'a'), undefined);
    // A record deleted by a batch can be created again by one, over its tombstone.
    const again = await ds.batch([{ op: 'put', kind: 'tds', id: 'a', value: { back: true }, ifRevision: 0 }]);
    assert.equal((await writer.get('tds', 'a'))?.revision, again.revision);
  });

  test(`${store}: a batch naming one record twice, or with a bad key or operation, is refused before anything is written`, async () => {
    const { writer } = await open();
    const ds = requireBatch(writer);
    const a = await writer.put('tds', 'a', { v: 1 });
    await assert.rejects(
      ds.batch([
        { op: 'put', kind: 'tds', id: 'b', value: {} },
        { op: 'put', kind: 'tds', id: 'a', value: { v: 2 } },
        { op: 'delete', kind: 'tds', id: 'a' },
      ]),
      rejectsWith('INVALID_PAYLOAD', "tds 'a' twice"),
    );
    await assert.rejects(
      ds.batch([
        { op: 'put', kind: 'tds', id: 'b', value: {} },
        { op: 'put', kind: 'tds', id: '', value: {} },
      ]),
      rejectsWith('INVALID_PAYLOAD', 'record id'),
    );
    await assert.rejects(
      ds.batch([{ op: 'replace', kind: 'tds', id: 'b', value: {} } as never]),
      rejectsWith('INVALID_PAYLOAD', '"replace"'),
    );
    await assert.rejects(
      ds.batch([{ op: 'put', kind: 'tds', id: 'b', value: {}, ifRevision: -1 }]),
      rejectsWith('INVALID_PAYLOAD', 'ifRevision'),
    );
    assert.equal(await writer.get('tds', 'b'), undefined);
    assert.equal((await writer.put('tds', 'c', {})).revision, a.revision + 1);
  });
}
