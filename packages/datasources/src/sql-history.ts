import type { Knex } from 'knex';
import type { AuditEntry, HistoryEntry, Logger, WriteAction } from '@dynmcp/plugin';
import { prunedRevisions, toAuditEntry, toHistoryEntry, type HistoryRetention, type RawHistoryEntry } from './history-codec.js';
import { HISTORY_TABLE } from './sql-migrations.js';
import { isTrue, revisionOf } from './sql-records.js';

// The history queries of the SQL datasource. Entries are written by writeBatch in sql-records.ts,
// in the transaction of the change; these only read and prune them.

interface HistoryRow {
  kind: string;
  id: string;
  revision: number | string;
  value: string | null;
  deleted: number | boolean | string;
  principal: string | null;
  action: string;
  at: number | string;
}

const HISTORY_COLUMNS = ['kind', 'id', 'revision', 'value', 'deleted', 'principal', 'action', 'at'] as const;

function raw(row: HistoryRow): RawHistoryEntry {
  return {
    kind: row.kind,
    id: row.id,
    revision: revisionOf(row.revision),
    at: Number(row.at),
    ...(row.principal === null ? {} : { principal: row.principal }),
    action: row.action as WriteAction,
    text: isTrue(row.deleted) ? null : (row.value ?? 'null'),
  };
}

/** One record's entries, newest first. */
export async function selectHistory(db: Knex, kind: string, id: string, limit: number, logger: Logger): Promise<HistoryEntry[]> {
  const rows = (await db(HISTORY_TABLE).select(HISTORY_COLUMNS).where({ kind, id }).orderBy('revision', 'desc').limit(limit)) as HistoryRow[];
  return rows.map((row) => toHistoryEntry(raw(row), logger));
}

/** Every entry after `since`, ascending by revision (then kind and id), without the values. */
export async function selectAudit(db: Knex, since: number, limit: number): Promise<AuditEntry[]> {
  const rows = (await db(HISTORY_TABLE)
    .select(HISTORY_COLUMNS.filter((column) => column !== 'value'))
    .where('revision', '>', since)
    .orderBy([{ column: 'revision' }, { column: 'kind' }, { column: 'id' }])
    .limit(limit)) as Array<Omit<HistoryRow, 'value'>>;
  return rows.map((row) => toAuditEntry(raw({ ...row, value: '' })));
}

/**
 * Removes what retention no longer keeps (see `prunedRevisions`). One grouped read finds the
 * records with anything to prune; only their entries are read and deleted, record by record. No
 * counter lock is needed: writes only insert entries at new revisions, never the ones pruned.
 */
export async function pruneHistory(db: Knex, retention: HistoryRetention): Promise<number> {
  const groups = (await db(HISTORY_TABLE)
    .select('kind', 'id')
    .min({ oldest: 'at' })
    .count({ versions: '*' })
    .groupBy('kind', 'id')) as Array<{ kind: string; id: string; oldest: number | string; versions: number | string }>;
  let pruned = 0;
  for (const { kind, id, oldest, versions } of groups) {
    const beyond = retention.maxVersions > 0 && Number(versions) > retention.maxVersions;
    if (Number(oldest) >= retention.cutoff && !beyond) continue;
    const rows = (await db(HISTORY_TABLE).select('revision', 'at', 'deleted').where({ kind, id }).orderBy('revision', 'desc')) as HistoryRow[];
    const revisions = prunedRevisions(
      rows.map((row) => ({ revision: revisionOf(row.revision), at: Number(row.at), deleted: isTrue(row.deleted) })),
      retention,
    );
    if (revisions.length > 0) pruned += await db(HISTORY_TABLE).where({ kind, id }).whereIn('revision', revisions).delete();
  }
  return pruned;
}
