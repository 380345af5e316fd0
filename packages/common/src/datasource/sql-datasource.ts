import { createHealthTracker } from './health-tracker.js';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Knex } from 'knex';
import {
  GatewayError,
  type DataSource,
  type FeedEvent,
  type FeedHandlers,
  type Logger,
  type StoredRecord,
  type WriteOptions,
} from '@dynmcp/plugin';
import { createSqlFeed, type SqlFeed } from './sql-feed.js';
import { DEFAULT_MYSQL_LIMITS, mysqlKnexConfig, onLiveConnection, sqliteKnexConfig, type MysqlLimits } from './sql-knex-config.js';
import { migrateToLatest, type SqlDialect } from './sql-migrations.js';
import { pruneTombstones, readFeed, selectLive, selectOne, writeRecord } from './sql-records.js';
import { describeStoreError, storeError, storeUnavailable, withBusyRetry } from './sql-store-errors.js';

/** Options of {@link createSqlDataSource}. */
export interface SqlDataSourceOptions {
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
  logger: Logger;
  /** Clock (epoch ms) for `updated_at`, tombstone retention and `lastSyncAt`; tests pass a fake. */
  now?: () => number;
}

const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_TOMBSTONE_RETENTION_MS = 24 * 60 * 60 * 1000;
// Pruning takes the counter's lock, so it runs at most once a minute; more often only when the
// retention itself is shorter than that (tests), so tombstones never outlive it by much.
const PRUNE_EVERY_MS = 60_000;
// Column sizes of dynmcp_records; checked here so MySQL's strict mode never is what rejects a key.
const MAX_KIND_LENGTH = 16;
const MAX_ID_LENGTH = 255;

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

function checkKey(kind: string, id: string): void {
  if (kind.length === 0 || kind.length > MAX_KIND_LENGTH) {
    throw new GatewayError('INVALID_PAYLOAD', `record kind must be 1 to ${MAX_KIND_LENGTH} characters`);
  }
  if (id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new GatewayError('INVALID_PAYLOAD', `record id must be 1 to ${MAX_ID_LENGTH} characters`);
  }
  // MySQL's collations compare with trailing spaces ignored (PAD SPACE), so `a` and `a ` would be
  // one key there and two in SQLite; refused in both, so every store agrees.
  if (kind.endsWith(' ') || id.endsWith(' ')) {
    throw new GatewayError('INVALID_PAYLOAD', 'record kind and id must not end with a space');
  }
}

function checkWriteOptions(options: WriteOptions | undefined): number | undefined {
  const expected = options?.ifRevision;
  if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new GatewayError('INVALID_PAYLOAD', 'ifRevision must be a non-negative integer');
  }
  return expected;
}

function serialise(value: unknown): string {
  try {
    // `undefined` (and functions) serialise to nothing; store them as JSON null.
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    throw new GatewayError('INVALID_PAYLOAD', 'record value is not serialisable as JSON', { cause: error });
  }
}

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

  let db: Knex | undefined;
  let opening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let closed = false;
  let lastPruneAt = Number.NEGATIVE_INFINITY;
  const feeds = new Map<SqlFeed, FeedHandlers>();
  const health = createHealthTracker({
    logger,
    now,
    onChange: (current) => {
      for (const handlers of feeds.values()) handlers.onHealth?.(current);
    },
  });

  function current(): Knex {
    if (db !== undefined) return db;
    throw storeError(closed ? 'DYNMCP_CLOSED' : 'DYNMCP_NOT_OPEN');
  }

  /** Runs one store operation with lock-conflict retries; foreign failures become STORE_UNAVAILABLE. */
  async function run<T>(operation: (db: Knex) => Promise<T>): Promise<T> {
    try {
      const knex = current();
      return await withBusyRetry(() => operation(knex));
    } catch (error) {
      throw storeUnavailable(error);
    }
  }

  /**
   * A read, run again on another connection while its connection turns out dead (killed, server
   * restarted while it idled in the pool): reads are safe to repeat, and each dead connection is
   * evicted as it is found.
   */
  function read<T>(operation: (db: Knex) => Promise<T>): Promise<T> {
    return run((knex) =>
      onLiveConnection(
        () => operation(knex),
        (error) => logger.debug('read retried on a fresh connection', { reason: describeStoreError(error) }),
      ),
    );
  }

  async function openOnce(): Promise<void> {
    let knex: Knex | undefined;
    try {
      if (dialect === 'sqlite') await mkdir(dirname(options.filename as string), { recursive: true });
      const { default: createKnex } = await import('knex');
      try {
        knex = createKnex(config);
      } catch (error) {
        // Knex loads the driver here and throws a plain Error (no code) when it is not installed.
        throw storeError('DYNMCP_NO_DRIVER', error);
      }
      await migrateToLatest(knex, dialect);
      if (closed) throw storeError('DYNMCP_CLOSED');
    } catch (error) {
      await knex?.destroy().catch(() => {});
      health.disconnected(describeStoreError(error));
      throw storeUnavailable(error);
    }
    db = knex;
    health.connected();
    logger.info('store opened');
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

  async function poll(cursor: number | undefined): Promise<FeedEvent | undefined> {
    const knex = current();
    await pruneIfDue(knex);
    // As in read(): dead pooled connections cost this poll nothing.
    return withBusyRetry(() => onLiveConnection(() => readFeed(knex, dialect, cursor, logger)));
  }

  function onPollResult(error: unknown): void {
    if (error === undefined) health.connected();
    else health.disconnected(describeStoreError(error));
  }

  // A local write is seen by this process's feeds within milliseconds (read-your-writes).
  function kickFeeds(): void {
    for (const feed of feeds.keys()) feed.kick();
  }

  return {
    name: dialect,

    open() {
      if (closed) return Promise.reject(storeUnavailable(storeError('DYNMCP_CLOSED')));
      opening ??= openOnce().catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
      return opening;
    },

    list(kind) {
      return read((knex) => selectLive(knex, kind, logger));
    },

    get(kind, id) {
      return read((knex) => selectOne(knex, kind, id, logger));
    },

    async put(kind, id, value, writeOptions): Promise<StoredRecord> {
      checkKey(kind, id);
      const ifRevision = checkWriteOptions(writeOptions);
      const text = serialise(value);
      const revision = await run((knex) => writeRecord(knex, dialect, { kind, id, text, ifRevision, now: now() }));
      kickFeeds();
      // What the store holds (a JSON round trip), not the caller's object.
      return { kind, id, value: JSON.parse(text) as unknown, revision: revision as number };
    },

    async delete(kind, id, writeOptions) {
      checkKey(kind, id);
      const ifRevision = checkWriteOptions(writeOptions);
      const revision = await run((knex) => writeRecord(knex, dialect, { kind, id, text: null, ifRevision, now: now() }));
      if (revision !== undefined) kickFeeds();
      return revision;
    },

    watch(handlers) {
      if (closed) throw storeUnavailable(storeError('DYNMCP_CLOSED'));
      const feed = createSqlFeed({ handlers, intervalMs: pollIntervalMs, poll, onPollResult, logger });
      feeds.set(feed, handlers);
      return {
        async close() {
          feeds.delete(feed);
          await feed.close();
        },
      };
    },

    health: () => health.current(),

    close() {
      closing ??= (async () => {
        closed = true;
        const running = [...feeds.keys()];
        feeds.clear();
        await Promise.all(running.map((feed) => feed.close()));
        await opening?.catch(() => {});
        const knex = db;
        db = undefined;
        await knex?.destroy();
        health.disconnected('closed', { quiet: true });
      })();
      return closing;
    },
  };
}
