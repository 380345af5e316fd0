import type { Knex } from 'knex';
import type { DataSource, FeedEvent, Logger } from '@dynmcp/plugin';
import { createSqlFeed } from './sql-feed.js';
import { DEFAULT_MYSQL_LIMITS, mysqlKnexConfig, onLiveConnection, sqliteKnexConfig, type MysqlLimits } from './sql-knex-config.js';
import { migrateToLatest, type SqlDialect } from './sql-migrations.js';
import { pruneHistory, selectAudit, selectHistory } from './sql-history.js';
import { pruneTombstones, readFeed, selectHead, selectLive, selectOne, writeBatch, writeRecord } from './sql-records.js';
import { describeStoreError, storeError, withBusyRetry } from './sql-store-errors.js';
import { createSqlReplicaStore } from './sql-replicas.js';
import { createSqliteBatchWriter, type SqliteBatchWriter } from './sqlite-batch-writer.js';
import { prepareSqlitePath } from './sqlite-path.js';
import { createStoreDataSource, type StoreOptions } from './store-data-source.js';

/** Options of {@link createSqlDataSource}. */
export interface SqlDataSourceOptions extends StoreOptions {
  /** `sqlite` (knex client `better-sqlite3`) or `mysql` (knex client `mysql2`, MySQL and MariaDB). */
  client: SqlDialect;
  /** SQLite database file; its parent directories are created by `open()`. */
  filename?: string;
  /**
   * MySQL: a `mysql://user:password@host:port/database` URL (query options pass to mysql2) or a
   * mysql2 connection object. Text travels as utf8mb4 unless it names another `charset`.
   */
  connection?: string | Record<string, unknown>;
  /** Connection pool bounds. SQLite defaults to one connection, MySQL to 0..10 (at least 2). */
  pool?: { min?: number; max?: number };
  /** MySQL: how long an operation waits for a pooled connection, default 5 s. */
  acquireTimeoutMs?: number;
  /** MySQL: how long opening a connection may take, default 5 s. */
  connectTimeoutMs?: number;
  /**
   * MySQL: how long one statement may wait for the server, default 5 s; its connection is then
   * destroyed. Row-lock waits end a second earlier on the server.
   */
  queryTimeoutMs?: number;
  /** MySQL: idle pooled connections are closed after this long, default 30 s. */
  idleTimeoutMs?: number;
  /** Pause between feed polls, default 250 ms. */
  pollIntervalMs?: number;
  /** How long a delete's tombstone is kept for lagging replicas, default 24 h. */
  tombstoneRetentionMs?: number;
  /**
   * SQLite: a batch whose records hold this much JSON or more (default 256 KiB) is written by a worker
   * thread on its own connection, so its statements and commit never hold the event loop; 0: every
   * batch (see sqlite-batch-writer.ts).
   */
  batchWorkerBytes?: number;
}

const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_TOMBSTONE_RETENTION_MS = 24 * 60 * 60 * 1000;
// Pruning takes the counter's lock, so it runs at most once a minute; more often only when the
// retention itself is shorter than that (tests), so tombstones never outlive it by much.
const PRUNE_EVERY_MS = 60_000;

function knexConfig(options: SqlDataSourceOptions, logger: Logger): Knex.Config {
  if (options.client === 'mysql') {
    const limits: MysqlLimits = {
      poolMin: options.pool?.min ?? DEFAULT_MYSQL_LIMITS.poolMin,
      poolMax: options.pool?.max ?? DEFAULT_MYSQL_LIMITS.poolMax,
      acquireTimeoutMs: options.acquireTimeoutMs ?? DEFAULT_MYSQL_LIMITS.acquireTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_MYSQL_LIMITS.connectTimeoutMs,
      queryTimeoutMs: options.queryTimeoutMs ?? DEFAULT_MYSQL_LIMITS.queryTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_MYSQL_LIMITS.idleTimeoutMs,
    };
    return mysqlKnexConfig(options.connection as string | Record<string, unknown>, limits, logger);
  }
  return sqliteKnexConfig(options.filename as string, options.pool, logger);
}

// The key columns of dynmcp_records. MySQL's collations compare with trailing spaces ignored (PAD
// SPACE), so `a` and `a ` would be one key there and two in SQLite; refused in both, so every SQL
// store agrees.
const SQL_KEY_RULES = { noTrailingSpace: true };

/**
 * The SQL datasource over knex: SQLite (embedded, one file shared by any number of gateway
 * processes) and MySQL/MariaDB. Every write takes the next revision under the lock of one counter
 * row, so commit order equals revision order; deletes leave tombstones; every `watch()` polls
 * `revision > cursor` and replays changes in order. Knex and the drivers load on `open()`, so
 * importing this module loads no database driver.
 */
export function createSqlDataSource(options: SqlDataSourceOptions): DataSource {
  const dialect = options.client;
  if (dialect === 'sqlite' && !options.filename) throw new TypeError('sqlite datasource needs a filename');
  if (dialect === 'mysql' && options.connection === undefined) throw new TypeError('mysql datasource needs a connection');
  const logger = options.logger.child({ component: 'datasource', datasource: dialect });
  const now = options.now ?? Date.now;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const retentionMs = options.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS;
  const pruneEveryMs = Math.min(PRUNE_EVERY_MS, Math.max(retentionMs / 2, pollIntervalMs));
  // Built now, so a malformed connection URL fails here, like a missing one, not at every open().
  const config = knexConfig(options, logger);
  let lastPruneAt = Number.NEGATIVE_INFINITY;
  // SQLite: large batches are written by a worker thread (see sqlite-batch-writer.ts), started with the first.
  let batchWriter: SqliteBatchWriter | undefined;

  /**
   * A read, run again on another connection while its connection turns out dead (killed, server
   * restarted while it idled in the pool): reads are safe to repeat, and each dead connection is
   * evicted as it is found. Lock conflicts are retried as for every operation.
   */
  function read<T>(operation: () => Promise<T>): Promise<T> {
    return withBusyRetry(() =>
      onLiveConnection(operation, (error) => logger.debug('read retried on a fresh connection', { reason: describeStoreError(error) })),
    );
  }

  async function pruneIfDue(knex: Knex): Promise<void> {
    const at = now();
    if (at - lastPruneAt < pruneEveryMs) return;
    lastPruneAt = at;
    try {
      const result = await withBusyRetry(() => pruneTombstones(knex, dialect, at - retentionMs));
      if (result !== undefined) logger.info('tombstones pruned', { ...result });
    } catch (error) {
      // The poll that follows reports an unreachable store; this only says pruning waits a minute.
      logger.debug('tombstone pruning failed', { reason: describeStoreError(error) });
    }
  }

  async function poll(knex: Knex, cursor: number | undefined): Promise<FeedEvent | undefined> {
    await pruneIfDue(knex);
    // As in read(): dead pooled connections cost this poll nothing.
    return withBusyRetry(() => onLiveConnection(() => readFeed(knex, dialect, cursor, logger)));
  }

  return createStoreDataSource<Knex>({
    name: dialect,
    logger,
    now,
    keyRules: SQL_KEY_RULES,
    describeError: describeStoreError,
    lifecycleError: storeError,

    async connect() {
      if (dialect === 'sqlite') await prepareSqlitePath(options.filename as string);
      const { default: createKnex } = await import('knex');
      try {
        return createKnex(config);
      } catch (error) {
        // Knex loads the driver here and throws a plain Error (no code) when it is not installed.
        throw storeError('DYNMCP_NO_DRIVER', error);
      }
    },
    prepare: (knex) => migrateToLatest(knex, dialect),
    async release(knex) {
      // The worker's connection first: its batches under way end before the store reports closed.
      const writer = batchWriter;
      batchWriter = undefined;
      await writer?.close();
      await knex.destroy();
    },

    list: (knex, kind) => read(() => selectLive(knex, kind, logger)),
    get: (knex, kind, id) => read(() => selectOne(knex, kind, id, logger)),
    write(knex, write) {
      const at = now();
      return withBusyRetry(() => writeRecord(knex, dialect, { ...write, now: at }));
    },
    writeBatch(knex, writes) {
      const at = now();
      if (dialect === 'sqlite' && (batchWriter ??= createSqliteBatchWriter(options.filename as string, options.batchWorkerBytes)).wants(writes)) {
        const writer = batchWriter;
        return withBusyRetry(() => writer.write(writes, at));
      }
      return withBusyRetry(() => writeBatch(knex, dialect, writes, at));
    },
    currentRevision: (knex) => read(() => selectHead(knex)),
    // Upserts and deletes by id are safe to repeat, so they take the reads' retries.
    replicas: createSqlReplicaStore({ now, logger, head: (knex) => read(() => selectHead(knex)), retry: read }),
    history: (knex, kind, id, limit) => read(() => selectHistory(knex, kind, id, limit, logger)),
    audit: (knex, since, limit) => read(() => selectAudit(knex, since, limit)),
    pruneHistory: (knex, retention) => withBusyRetry(() => pruneHistory(knex, retention)),

    watch: ({ handlers, client, onState }) =>
      createSqlFeed({
        handlers,
        intervalMs: pollIntervalMs,
        // client() throws while the store is not open; the poll reports that as its failure.
        poll: async (cursor) => poll(client(), cursor),
        describeError: describeStoreError,
        onState,
        logger,
      }),
  }, options);
}
