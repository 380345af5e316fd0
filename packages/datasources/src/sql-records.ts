import { slicer } from '@dynmcp/common';
import type { Knex } from 'knex';
import type { Change, FeedEvent, Logger, StoredRecord } from '@dynmcp/plugin';
import { parseStoredValue, preconditionFailed, type RecordWrite } from './record-codec.js';
import type { BatchOutcome } from './store-data-source.js';
import { DEAD_CONNECTION_ATTEMPTS, isConnectionGone } from './sql-knex-config.js';
import { HISTORY_TABLE, RECORDS_TABLE, REVISION_TABLE, type SqlDialect } from './sql-migrations.js';
import { storeError } from './sql-store-errors.js';

// The queries of the SQL datasource, one exported function per operation, each in one transaction
// where it reads more than one thing.

interface RecordRow {
  kind: string;
  id: string;
  value: string | null;
  // BIGINT: a number from SQLite and from mysql2 while exact, a string beyond 2^53 (and from
  // drivers set to bigNumberStrings); always read through revisionOf().
  revision: number | string;
  // TINYINT(1) on MySQL (0/1), INTEGER on SQLite.
  deleted?: number | boolean | string;
}

interface Counter {
  head: number;
  minRetained: number;
}

const COLUMNS = ['kind', 'id', 'value', 'revision'] as const;
// Large definitions (an imported operation's schemas: several KB each) make a statement of 500
// rows megabytes of bound values, tens of milliseconds of one synchronous SQLite call.
const HISTORY_ROWS_PER_INSERT = 50;

/** A BIGINT column as a JavaScript number, refusing what a number cannot hold exactly. */
export function revisionOf(raw: number | string | bigint | null | undefined): number {
  const value = Number(raw ?? Number.NaN);
  if (!Number.isSafeInteger(value) || value < 0) throw storeError('DYNMCP_BAD_REVISION');
  return value;
}

export function isTrue(flag: RecordRow['deleted']): boolean {
  return flag === true || flag === 1 || flag === '1';
}

function decode(row: RecordRow, logger: Logger): StoredRecord {
  const { kind, id } = row;
  const revision = revisionOf(row.revision);
  return { kind, id, value: parseStoredValue(row.value ?? 'null', { kind, id, revision }, logger), revision };
}

function toChange(row: RecordRow, logger: Logger): Change {
  if (isTrue(row.deleted)) return { type: 'delete', kind: row.kind, id: row.id, revision: revisionOf(row.revision) };
  return { type: 'put', ...decode(row, logger) };
}

export async function readCounter(db: Knex, forUpdate: boolean): Promise<Counter> {
  const query = db(REVISION_TABLE).select('revision', 'min_retained').where({ id: 1 });
  // FOR UPDATE serialises writers on MySQL/MariaDB; knex compiles it to nothing on SQLite.
  const row = (await (forUpdate ? query.forUpdate() : query).first()) as
    | { revision: number | string; min_retained: number | string }
    | undefined;
  if (row === undefined) throw storeError('DYNMCP_NO_COUNTER');
  return { head: revisionOf(row.revision), minRetained: revisionOf(row.min_retained) };
}

/**
 * Runs `work` in a write transaction that holds the revision counter's lock from its first
 * statement, so writers serialise and commit order equals revision order.
 */
export async function inWriteTransaction<T>(
  db: Knex,
  dialect: SqlDialect,
  work: (trx: Knex.Transaction, counter: Counter) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    let committing = false;
    let failure: unknown;
    try {
      return await db.transaction(async (trx) => {
        try {
          if (dialect === 'sqlite') {
            // Knex opens SQLite transactions with a deferred BEGIN. Making the first statement a write
            // takes the write lock before anything is read (BEGIN IMMEDIATE semantics): a concurrent
            // writer fails fast with SQLITE_BUSY and retries, instead of both reading the same counter.
            await trx(REVISION_TABLE).where({ id: 1 }).update({ revision: trx.raw('??', ['revision']) });
          }
          const result = await work(trx, await readCounter(trx, true));
          committing = true;
          return result;
        } catch (error) {
          failure = error;
          throw error;
        }
      });
    } catch (error) {
      // On MySQL knex rejects with the ROLLBACK's error when that fails too (on a dead connection
      // it does), which would hide what went wrong first.
      const cause = failure ?? error;
      // A connection that died before COMMIT was sent took its transaction with it (the server
      // rolls back), so running it again on a fresh connection cannot apply it twice. A
      // failure during COMMIT is ambiguous and goes to the caller.
      if (attempt >= DEAD_CONNECTION_ATTEMPTS || committing || !isConnectionGone(cause)) throw cause;
    }
  }
}

// MySQL: head and rows from one consistent snapshot even when the server default is READ COMMITTED
// (InnoDB takes the snapshot at the first read, the counter's). Not `readOnly`: knex 3.3 joins both
// options without the comma MySQL wants (`SET TRANSACTION ISOLATION LEVEL … READ ONLY` is a syntax
// error on MariaDB 10.11). SQLite: a transaction already reads one snapshot (and knex warns about
// both options there).
function readConfig(dialect: SqlDialect): Knex.TransactionConfig | undefined {
  return dialect === 'mysql' ? { isolationLevel: 'repeatable read' } : undefined;
}

/** Live records of `kind` ordered by id. */
export async function selectLive(db: Knex, kind: string, logger: Logger): Promise<StoredRecord[]> {
  const rows = (await db(RECORDS_TABLE).select(COLUMNS).where({ kind, deleted: false }).orderBy('id')) as RecordRow[];
  return rows.map((row) => decode(row, logger));
}

/** One live record, or `undefined` (absent or tombstone). */
export async function selectOne(db: Knex, kind: string, id: string, logger: Logger): Promise<StoredRecord | undefined> {
  const row = (await db(RECORDS_TABLE).select(COLUMNS).where({ kind, id, deleted: false }).first()) as RecordRow | undefined;
  return row === undefined ? undefined : decode(row, logger);
}

/** A write with the moment it is made. */
export interface TimedWrite extends RecordWrite {
  /** Epoch ms stored in `updated_at`, the age tombstone retention measures. */
  now: number;
}

/**
 * Writes one record in one transaction and resolves with its new revision; a delete of an absent
 * record writes nothing and resolves `undefined`. A failed `ifRevision` (a tombstone counts as
 * absent, revision 0) throws `PRECONDITION_FAILED` and rolls back.
 */
export async function writeRecord(db: Knex, dialect: SqlDialect, write: TimedWrite): Promise<number | undefined> {
  const { revision, applied } = await writeBatch(db, dialect, [write], write.now);
  return applied[0] === true ? revision : undefined;
}

/**
 * Writes every record of a batch in one transaction at one revision, the counter's next, or none:
 * every precondition is checked (a tombstone counts as absent) before anything is written, and a
 * failure rolls back. Deletes of absent records write nothing; when nothing is left to write no
 * revision is taken and the outcome carries the current one. The feed's poll reads up to the
 * counter's head in one snapshot, so it sees the batch whole, in one `changes` event.
 */
export async function writeBatch(db: Knex, dialect: SqlDialect, writes: readonly RecordWrite[], now: number): Promise<BatchOutcome> {
  return inWriteTransaction(db, dialect, async (trx, counter) => {
    const yieldNow = slicer();
    const found: Array<{ exists: boolean; current: number }> = [];
    for (const { kind, id, ifRevision } of writes) {
      await yieldNow();
      const existing = (await trx(RECORDS_TABLE).select('revision', 'deleted').where({ kind, id }).forUpdate().first()) as
        | Pick<RecordRow, 'revision' | 'deleted'>
        | undefined;
      const current = existing === undefined || isTrue(existing.deleted) ? 0 : revisionOf(existing.revision);
      if (ifRevision !== undefined && ifRevision !== current) throw preconditionFailed(kind, id, current, ifRevision);
      found.push({ exists: existing !== undefined, current });
    }
    const applied = writes.map((write, index) => write.text !== null || found[index]?.current !== 0);
    if (!applied.includes(true)) return { revision: counter.head, applied };
    const revision = counter.head + 1;
    if (!Number.isSafeInteger(revision)) throw storeError('DYNMCP_BAD_REVISION');
    const history: Array<Record<string, unknown>> = [];
    for (const [index, { kind, id, text, action, principal, untracked }] of writes.entries()) {
      if (applied[index] !== true) continue;
      await yieldNow();
      const row = { value: text, revision, deleted: text === null, updated_at: now };
      if (found[index]?.exists === true) await trx(RECORDS_TABLE).where({ kind, id }).update(row);
      else await trx(RECORDS_TABLE).insert({ kind, id, ...row });
      if (untracked === true) continue;
      history.push({ kind, id, revision, value: text, deleted: text === null, principal: principal ?? null, action, at: now });
    }
    // In the same transaction: a change and its history entry commit or roll back together.
    // Chunked: SQLite caps the bound parameters of one statement.
    for (let start = 0; start < history.length; start += HISTORY_ROWS_PER_INSERT) {
      await yieldNow();
      await trx(HISTORY_TABLE).insert(history.slice(start, start + HISTORY_ROWS_PER_INSERT));
    }
    await trx(REVISION_TABLE).where({ id: 1 }).update({ revision });
    return { revision, applied };
  });
}

/** The counter's head: the revision of the last write. */
export async function selectHead(db: Knex): Promise<number> {
  return (await readCounter(db, false)).head;
}

/**
 * One poll of the feed, in one read transaction. Without a cursor, or when the cursor can no longer
 * be replayed (it is older than `min_retained` because tombstones were pruned past it, or newer than
 * the head because the database was replaced), a snapshot of every live record. Otherwise the rows
 * written after the cursor, in revision order, or `undefined` when there are none.
 */
export async function readFeed(
  db: Knex,
  dialect: SqlDialect,
  cursor: number | undefined,
  logger: Logger,
): Promise<FeedEvent | undefined> {
  // Started before the read, so the read's own time counts towards the first slice of decoding.
  const yieldNow = slicer();
  const read = await db.transaction(async (trx) => {
    const { head, minRetained } = await readCounter(trx, false);
    if (cursor === undefined || head < cursor || cursor < minRetained) {
      const rows = (await trx(RECORDS_TABLE)
        .select(COLUMNS)
        .where({ deleted: false })
        .orderBy([{ column: 'kind' }, { column: 'id' }])) as RecordRow[];
      return { type: 'snapshot' as const, revision: head, rows };
    }
    if (head === cursor) return undefined;
    const rows = (await trx(RECORDS_TABLE)
      .select([...COLUMNS, 'deleted'])
      .where('revision', '>', cursor)
      .andWhere('revision', '<=', head)
      .orderBy('revision')) as RecordRow[];
    return { type: 'changes' as const, revision: head, rows };
  }, readConfig(dialect));
  if (read === undefined) return undefined;
  if (read.type === 'snapshot') {
    return { type: 'snapshot', revision: read.revision, records: await decodeInSlices(read.rows, (row) => decode(row, logger), yieldNow) };
  }
  return { type: 'changes', revision: read.revision, changes: await decodeInSlices(read.rows, (row) => toChange(row, logger), yieldNow) };
}

/**
 * Decodes rows after their read transaction, yielding to the event loop every few milliseconds:
 * a change of a thousand imported tools is several MB of JSON, tens of milliseconds of parsing
 * that would otherwise hold every request of the replica at once.
 */
async function decodeInSlices<T>(rows: readonly RecordRow[], one: (row: RecordRow) => T, yieldNow: () => Promise<void> | undefined): Promise<T[]> {
  const decoded: T[] = [];
  for (const row of rows) {
    await yieldNow();
    decoded.push(one(row));
  }
  return decoded;
}

/** What one pruning pass removed. */
export interface PruneResult {
  pruned: number;
  minRetained: number;
}

/**
 * Deletes tombstones last written before `cutoff` and raises `min_retained` past the highest pruned
 * revision, in one write transaction, so a feed whose cursor predates them gets a snapshot instead
 * of silently missing the deletes. Resolves `undefined` when nothing was old enough.
 */
export async function pruneTombstones(db: Knex, dialect: SqlDialect, cutoff: number): Promise<PruneResult | undefined> {
  return inWriteTransaction(db, dialect, async (trx, counter) => {
    const old = () => trx(RECORDS_TABLE).where({ deleted: true }).andWhere('updated_at', '<', cutoff);
    const top = (await old().max({ highest: 'revision' }).first()) as { highest: number | string | null } | undefined;
    if (top?.highest === undefined || top.highest === null) return undefined;
    const pruned = await old().delete();
    const minRetained = Math.max(counter.minRetained, revisionOf(top.highest) + 1);
    await trx(REVISION_TABLE).where({ id: 1 }).update({ min_retained: minRetained });
    return { pruned, minRetained };
  });
}
