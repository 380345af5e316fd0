import type { BatchOperation, BatchResult, DataSource } from './datasource.js';
import { GatewayError } from './errors.js';

/** A datasource that has {@link DataSource.batch}. */
export type BatchingDataSource = DataSource & { batch(operations: readonly BatchOperation[]): Promise<BatchResult> };

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
