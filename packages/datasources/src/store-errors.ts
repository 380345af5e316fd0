import { GatewayError, isGatewayError } from '@dynmcp/plugin';

/** The conditions every built-in store names the same way: used before `open()`, used after `close()`. */
export type LifecycleErrorCode = 'DYNMCP_NOT_OPEN' | 'DYNMCP_CLOSED';

/**
 * An error carrying one of a store's own `DYNMCP_*` codes, so that store's describe function can
 * name it without reading the message.
 */
export function codedError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

/**
 * Wraps a foreign store error once into `STORE_UNAVAILABLE`, keeping it as `cause`, with the short
 * client-safe reason `describe` gives. Gateway errors (a failed precondition, a bad key) pass
 * through unchanged.
 */
export function storeUnavailable(error: unknown, describe: (error: unknown) => string): GatewayError {
  if (isGatewayError(error)) return error;
  return new GatewayError('STORE_UNAVAILABLE', `store unavailable: ${describe(error)}`, { cause: error });
}
