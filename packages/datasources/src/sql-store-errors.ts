import { setTimeout as sleep } from 'node:timers/promises';
import { isPermanentFailure } from '@dynmcp/plugin';
import { codedError } from './store-errors.js';

/**
 * How long an operation keeps retrying while another connection holds the SQLite write lock (the
 * role SQLite's `busy_timeout` plays, see `sql-knex-config.ts` for why it is done here instead).
 */
export const BUSY_TIMEOUT_MS = 5_000;

// Driver error codes → short, client-safe words. Knex prefixes the SQL text to every query error's
// message (lib/execution/internal/query-executioner.js), and connection errors can name hosts, so
// reasons are built from the code alone, never from the message.
const REASONS: Record<string, string> = {
  SQLITE_BUSY: 'database is locked',
  SQLITE_LOCKED: 'database is locked',
  SQLITE_CANTOPEN: 'cannot open database file',
  SQLITE_READONLY: 'database is read-only',
  SQLITE_FULL: 'disk full',
  SQLITE_IOERR: 'disk I/O error',
  SQLITE_CORRUPT: 'database file is corrupt',
  SQLITE_NOTADB: 'file is not a database',
  SQLITE_PERM: 'permission denied',
  SQLITE_ERROR: 'query failed',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'disk full',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  PROTOCOL_CONNECTION_LOST: 'connection lost',
  ER_ACCESS_DENIED_ERROR: 'access denied',
  ER_DBACCESS_DENIED_ERROR: 'access denied',
  ER_BAD_DB_ERROR: 'unknown database',
  ER_NO_SUCH_TABLE: 'table missing',
  ER_LOCK_WAIT_TIMEOUT: 'lock wait timed out',
  ER_CONNECTION_KILLED: 'connection killed',
  ER_SERVER_SHUTDOWN: 'server shutting down',
  ER_CON_COUNT_ERROR: 'too many connections',
  ER_OPTION_PREVENTS_STATEMENT: 'server is read-only',
  ER_PARSE_ERROR: 'query failed',
  PROTOCOL_SEQUENCE_TIMEOUT: 'query timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ER_LOCK_DEADLOCK: 'deadlock',
  ERR_MODULE_NOT_FOUND: 'database driver not installed',
  MODULE_NOT_FOUND: 'database driver not installed',
  DYNMCP_NO_COUNTER: 'revision counter row missing',
  DYNMCP_NOT_OPEN: 'not open',
  DYNMCP_CLOSED: 'closed',
  DYNMCP_NO_DRIVER: 'database driver not installed',
  DYNMCP_BAD_REVISION: 'revision out of range',
  DYNMCP_MIGRATION_LOCKED: 'schema migration in progress elsewhere',
  DYNMCP_WORKER_GONE: 'SQLite batch worker stopped',
};

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : undefined;
}

/**
 * A short reason for a store failure, safe for clients, health output and logs: no SQL text, no
 * host names, no credentials. SQLite extended codes (`SQLITE_BUSY_SNAPSHOT`) fall back to their base.
 */
export function describeStoreError(error: unknown): string {
  // The path itself is in the start's error, for the operator; not in a reason /readyz shows anyone.
  if (isPermanentFailure(error)) return 'the SQLite path cannot hold a database (see the start log)';
  if (error instanceof Error && error.name === 'KnexTimeoutError') return 'timed out waiting for a connection';
  if (error instanceof Error && error.name === 'MigrationLocked') return 'schema migration in progress elsewhere';
  const code = codeOf(error);
  // mysql2's "Can't add new command when connection is in closed state" has no code.
  if (code === undefined) return (error as { fatal?: unknown } | null)?.fatal === true ? 'connection lost' : 'unexpected error';
  const base = code.startsWith('SQLITE_') ? code.split('_').slice(0, 2).join('_') : code;
  const text = REASONS[code] ?? REASONS[base];
  if (code.startsWith('DYNMCP_')) return text ?? 'unexpected error';
  return text === undefined ? `error ${code}` : `${text} (${code})`;
}

/** An error with one of our own codes, so {@link describeStoreError} can name it. */
export function storeError(
  code:
    | 'DYNMCP_NO_COUNTER'
    | 'DYNMCP_NOT_OPEN'
    | 'DYNMCP_CLOSED'
    | 'DYNMCP_NO_DRIVER'
    | 'DYNMCP_BAD_REVISION'
    | 'DYNMCP_MIGRATION_LOCKED',
  cause?: unknown,
): Error {
  return codedError(code, REASONS[code] as string, cause);
}

/** True for lock conflicts worth retrying: another SQLite writer, or an InnoDB deadlock victim. */
export function isBusyError(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED' || code === 'ER_LOCK_DEADLOCK');
}

/**
 * Runs `operation`, retrying lock conflicts with jittered exponential backoff for up to
 * {@link BUSY_TIMEOUT_MS}. The waiting happens on timers, so the event loop (and any transaction of
 * this same process that holds the lock) keeps running meanwhile.
 */
export async function withBusyRetry<T>(operation: () => Promise<T>, budgetMs = BUSY_TIMEOUT_MS): Promise<T> {
  const deadline = performance.now() + budgetMs;
  let delayMs = 1;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!isBusyError(error) || performance.now() + delayMs > deadline) throw error;
      await sleep(delayMs * (0.5 + Math.random()));
      delayMs = Math.min(delayMs * 2, 50);
    }
  }
}
