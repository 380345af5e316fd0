import type BetterSqlite3 from 'better-sqlite3';
import type { Knex } from 'knex';
import type { Logger } from '@dynmcp/plugin';

/** Connection pool and time limits of the MySQL/MariaDB client; every field has a default. */
export interface MysqlLimits {
  /** Most pooled connections, default 10 (at least 2: schema migration pins one, see sql-migrations.ts). */
  poolMax: number;
  poolMin: number;
  /** How long an operation waits for a pooled connection, default 5 s. */
  acquireTimeoutMs: number;
  /** How long opening one connection may take (TCP + handshake), default 5 s. */
  connectTimeoutMs: number;
  /**
   * How long one statement may wait for its answer, default 5 s. A statement that passes it fails
   * and its connection is destroyed, never reused; the server also gives up row-lock waits a
   * second earlier (`innodb_lock_wait_timeout`), so a held lock fails cleanly before that.
   */
  queryTimeoutMs: number;
  /** An idle pooled connection is closed after this long, default 30 s. */
  idleTimeoutMs: number;
}

/** Defaults of {@link MysqlLimits}. */
export const DEFAULT_MYSQL_LIMITS: MysqlLimits = {
  poolMax: 10,
  poolMin: 0,
  acquireTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
};

/**
 * Errors that say the connection was already dead when used: killed, or closed by a server that
 * restarted while it idled in the pool. Not time-outs: a server that does not answer will not
 * answer a second attempt either.
 */
const CONNECTION_GONE = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ECONNRESET',
  'EPIPE',
  // MariaDB's answer on a connection killed with KILL CONNECTION (1927), MySQL's shutdown notice.
  'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN',
]);

/**
 * How many times work is tried while its connections turn out dead. After a server restart or a
 * KILL CONNECTION every idle pooled connection may be dead and each is found out only when used
 * (the pool's check cannot see a socket the server closed), so one retry is not enough; each dead
 * attempt fails at once and evicts its connection. Above the default pool size of 10.
 */
export const DEAD_CONNECTION_ATTEMPTS = 16;

/** True when `error` says its connection was dead, so the same work on a fresh one may succeed. */
export function isConnectionGone(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, fatal } = error as { code?: unknown; fatal?: unknown };
  // mysql2's "Can't add new command when connection is in closed state" is fatal without a code.
  return (typeof code === 'string' && CONNECTION_GONE.has(code)) || (fatal === true && code === undefined);
}

/**
 * A `mysql://user:password@host:port/database?option=value` URL as a mysql2 connection object, so
 * the datasource can add its own settings to it. Query options pass through; values that read as
 * JSON (`true`, `3000`, `{"rejectUnauthorized":false}`) become that value, as mysql2 does.
 */
export function parseMysqlUrl(url: string): Record<string, unknown> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No detail: the URL carries the password.
    throw new TypeError('the MySQL connection URL is not a valid URL');
  }
  if (!['mysql:', 'mysql2:', 'mariadb:'].includes(parsed.protocol)) {
    throw new TypeError('the MySQL connection URL must start with mysql://');
  }
  const connection: Record<string, unknown> = {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 3306 : Number(parsed.port),
  };
  if (parsed.username !== '') connection.user = decodeURIComponent(parsed.username);
  if (parsed.password !== '') connection.password = decodeURIComponent(parsed.password);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database !== '') connection.database = database;
  for (const [key, value] of parsed.searchParams) {
    try {
      connection[key] = JSON.parse(value);
    } catch {
      connection[key] = value;
    }
  }
  return connection;
}

type Callback = (error: Error | null, ...rest: unknown[]) => void;
interface RawMysqlConnection {
  query(options: unknown, values?: unknown, callback?: unknown): unknown;
  destroy(): void;
  stream?: { destroy(): void };
  __knex__disposed?: unknown;
}

/**
 * Gives every statement of this connection mysql2's own time limit, BEGIN and COMMIT included
 * (knex's `.timeout()` covers only query builders). On expiry mysql2 fails the statement but keeps
 * the connection, which is still busy with it: it is destroyed and marked disposed, so knex's pool
 * validation evicts it instead of handing it out again (knex's pool would otherwise give the next
 * query a connection still busy with the abandoned statement).
 */
function limitStatements(connection: RawMysqlConnection, timeoutMs: number): void {
  const query = connection.query.bind(connection);
  connection.query = (options: unknown, values?: unknown, callback?: unknown) => {
    const withLimit =
      typeof options === 'object' && options !== null && !('timeout' in options)
        ? { ...options, timeout: timeoutMs }
        : typeof options === 'string'
          ? { sql: options, timeout: timeoutMs }
          : options;
    const done = typeof values === 'function' ? (values as Callback) : (callback as Callback | undefined);
    const guarded: Callback = (error, ...rest) => {
      if (error !== null && (error as { code?: unknown }).code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
        connection.__knex__disposed = error;
        // mysql2's destroy() only half-closes the socket; a hung server would keep it open.
        connection.destroy();
        connection.stream?.destroy();
      }
      done?.(error, ...rest);
    };
    return typeof values === 'function' ? query(withLimit, guarded) : query(withLimit, values, guarded);
  };
}

function knexLog(logger: Logger): Knex.Logger {
  // Knex warns through console by default; route it to our logger, at debug, since its messages may
  // carry SQL text.
  return {
    warn: (message: unknown) => logger.debug('knex warning', { detail: String(message) }),
    error: (message: unknown) => logger.debug('knex error', { detail: String(message) }),
    deprecate: (method: string, alternative: string) => logger.debug('knex deprecation', { method, alternative }),
    debug: () => {},
  };
}

/**
 * Knex for MySQL/MariaDB over mysql2. Values: BIGINT columns come back as numbers where exact and as
 * strings beyond 2^53 (`supportBigNumbers`), and the readers convert them with a check; text is
 * utf8mb4 on the wire whatever the server's default character set (latin1 on a bare MariaDB).
 */
export function mysqlKnexConfig(connection: string | Record<string, unknown>, limits: MysqlLimits, logger: Logger): Knex.Config {
  const settings = {
    charset: 'utf8mb4',
    supportBigNumbers: true,
    connectTimeout: limits.connectTimeoutMs,
    ...(typeof connection === 'string' ? parseMysqlUrl(connection) : connection),
  };
  // Row-lock waits end on the server a second before the client's own limit, with a clean error
  // (ER_LOCK_WAIT_TIMEOUT) on a connection that stays usable; the server default is 50 s.
  const lockWaitSeconds = Math.max(1, Math.floor(limits.queryTimeoutMs / 1000) - 1);
  return {
    client: 'mysql2',
    connection: settings as Knex.MySql2ConnectionConfig,
    pool: {
      min: limits.poolMin,
      max: Math.max(2, limits.poolMax),
      idleTimeoutMillis: limits.idleTimeoutMs,
      // A refused connection fails the waiting operation at once instead of being retried until
      // the acquire timeout (knex's default, made explicit).
      propagateCreateError: true,
      createTimeoutMillis: limits.connectTimeoutMs + 1_000,
      afterCreate(conn: RawMysqlConnection, done: (error: Error | null, conn: unknown) => void) {
        conn.query(`SET SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}`, (error: Error | null) => {
          if (error === null) limitStatements(conn, limits.queryTimeoutMs);
          done(error, conn);
        });
      },
    },
    // The default is 60 s; an unreachable store must fail fast.
    acquireConnectionTimeout: limits.acquireTimeoutMs,
    log: knexLog(logger),
  };
}

/** Knex for SQLite over better-sqlite3. */
export function sqliteKnexConfig(filename: string, pool: { min?: number; max?: number } | undefined, logger: Logger): Knex.Config {
  return {
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: pool?.min ?? 1,
      max: pool?.max ?? 1,
      afterCreate(conn: BetterSqlite3.Database, done: (error: Error | null, conn: unknown) => void) {
        try {
          // busy_timeout 0: better-sqlite3 is synchronous, so SQLite's own busy handler would sleep
          // inside the call and freeze the event loop, and would deadlock against a transaction of
          // this same process that holds the lock between two awaits. Lock conflicts are retried
          // on timers instead, for the same 5 s (withBusyRetry), which also serves two gateway
          // processes on one file.
          conn.pragma('busy_timeout = 0');
          // WAL: readers never wait for the writer, and polls read one snapshot.
          conn.pragma('journal_mode = WAL');
          done(null, conn);
        } catch (error) {
          done(error as Error, conn);
        }
      },
    },
    log: knexLog(logger),
  };
}

/** Runs `operation`, again while it fails on a dead connection (see {@link DEAD_CONNECTION_ATTEMPTS}). */
export async function onLiveConnection<T>(operation: () => Promise<T>, onRetry?: (error: unknown) => void): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= DEAD_CONNECTION_ATTEMPTS || !isConnectionGone(error)) throw error;
      onRetry?.(error);
    }
  }
}
