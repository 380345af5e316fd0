import type { AuditEntry, BatchOperation, BatchResult, DataSource, HistoryEntry, WriteMetadata } from './datasource.js';
import { GatewayError } from './errors.js';

/** A datasource that has {@link DataSource.batch}. */
export type BatchingDataSource = DataSource & {
  batch(operations: readonly BatchOperation[], metadata?: WriteMetadata): Promise<BatchResult>;
};

/** A datasource that keeps the history of its records. */
export type HistoryDataSource = DataSource & {
  history(kind: string, id: string, options: { limit: number }): Promise<HistoryEntry[]>;
  audit(options: { since: number; limit: number }): Promise<AuditEntry[]>;
};

/** True when `datasource` can write several records at one revision. */
export function supportsBatch(datasource: DataSource): datasource is BatchingDataSource {
  return typeof datasource.batch === 'function';
}

/**
 * The datasource, for a feature that must write several records at one revision (an import).
 * `batch` is optional in the contract, so a datasource plugin written for plugin API 1 (or a
 * read-only one) still loads; the feature that needs it fails here with `BATCH_UNSUPPORTED`
 * (501), naming the datasource and what to do, and nothing is written.
 */
export function requireBatch(datasource: DataSource): BatchingDataSource {
  if (supportsBatch(datasource)) return datasource;
  throw new GatewayError(
    'BATCH_UNSUPPORTED',
    `datasource "${datasource.name}" cannot write several definitions at one revision (it has no batch()); nothing was written. ` +
      'Use a built-in datasource (sqlite, mysql, etcd) or a datasource plugin that implements batch() (plugin API 2)',
    { data: { datasource: datasource.name } },
  );
}

/** True when `datasource` keeps the history of its records (plugin API 3). */
export function supportsHistory(datasource: DataSource): datasource is HistoryDataSource {
  return typeof datasource.history === 'function' && typeof datasource.audit === 'function';
}

/**
 * The datasource, for history, rollback and audit. Both methods are optional in the contract, so a
 * plugin written for an older API still loads; those features fail here with
 * `HISTORY_UNSUPPORTED` (501), naming the datasource.
 */
export function requireHistory(datasource: DataSource): HistoryDataSource {
  if (supportsHistory(datasource)) return datasource;
  throw new GatewayError(
    'HISTORY_UNSUPPORTED',
    `datasource "${datasource.name}" keeps no history of definitions (it has no history() and audit()). ` +
      'Use a built-in datasource (sqlite, mysql, etcd) or a datasource plugin that implements them (plugin API 3)',
    { data: { datasource: datasource.name } },
  );
}
