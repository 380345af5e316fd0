import { codedError } from './store-errors.js';

// etcd3 turns gRPC failures into error classes (lib/errors.js castGrpcError) but drops the numeric
// code, and its messages can carry endpoints ("connect ECONNREFUSED 127.0.0.1:2379"). So reasons are
// built from the class name alone, never from the message.
const REASONS: Record<string, string> = {
  GRPCUnavailableError: 'connection unavailable',
  GRPCDeadlineExceededError: 'timed out',
  GRPCCancelledError: 'call cancelled',
  GRPCInternalError: 'internal error',
  GRPCResourceExhastedError: 'resource exhausted',
  GRPCInvalidArgumentError: 'request rejected',
  GRPCOutOfRangeError: 'revision compacted',
  GRPCUnauthenticatedError: 'not authenticated',
  EtcdAuthenticationFailedError: 'authentication failed',
  EtcdPermissionDeniedError: 'permission denied',
  EtcdInvalidAuthTokenError: 'invalid auth token',
  EtcdWatchStreamEnded: 'watch stream ended',
  ClientClosedError: 'closed',
};

// Our own conditions, with a code like the SQL datasource's `DYNMCP_*` errors.
const OWN = {
  DYNMCP_NOT_OPEN: 'not open',
  DYNMCP_CLOSED: 'closed',
  DYNMCP_NO_DRIVER: 'etcd client not installed',
  DYNMCP_TLS_FILE: 'cannot read a TLS file',
  DYNMCP_WATCH_TIMEOUT: 'watch not established in time',
  DYNMCP_CONNECTION_LOST: 'connection lost',
  DYNMCP_COMPACTED: 'watch canceled (history compacted)',
  DYNMCP_WATCH_CANCELED: 'watch canceled',
  DYNMCP_STORE_RESET: 'store revision went backwards',
} as const;

/** A condition of our own, named by {@link describeEtcdError}. */
export type EtcdErrorCode = keyof typeof OWN;

const isOwn = (code: unknown): code is EtcdErrorCode => typeof code === 'string' && Object.hasOwn(OWN, code);

/** An error with one of our own codes, so {@link describeEtcdError} can name it. */
export function etcdError(code: EtcdErrorCode, cause?: unknown): Error {
  return codedError(code, OWN[code], cause);
}

/**
 * A short reason for an etcd failure, safe for clients, health output and logs: no endpoint, no
 * user name, no key. Unknown failures say "unexpected error".
 */
export function describeEtcdError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'unexpected error';
  const code = (error as { code?: unknown }).code;
  if (isOwn(code)) return OWN[code];
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return OWN.DYNMCP_NO_DRIVER;
  const name = (error as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name === 'string' && REASONS[name] !== undefined) return REASONS[name];
  // A watcher cancelled by etcd arrives as a plain EtcdError "Watcher canceled: <reason>".
  if (name === 'EtcdError') return 'etcd error';
  return 'unexpected error';
}

