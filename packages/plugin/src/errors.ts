/**
 * The one catalogue of stable error codes. Every code maps to the HTTP status the admin API answers
 * with; adding a code without a status fails to compile. The codes are listed in `docs/errors.md`.
 */
export const ERROR_STATUS = {
  INVALID_PAYLOAD: 400,
  ID_MISMATCH: 400,
  INVALID_JSON: 400,
  DUPLICATE_KEY: 400,
  PAYLOAD_TOO_DEEP: 400,
  INVALID_PATH: 400,
  REQUEST_ABORTED: 400,
  INVALID_OPENAPI: 400,
  OPENAPI_TOO_LARGE: 400,
  OPENAPI_TOO_COMPLEX: 400,
  INVALID_CREDENTIAL_NAME: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  INSTANCE_NOT_FOUND: 404,
  REVISION_NOT_FOUND: 404,
  CREDENTIAL_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  DUPLICATE_TOOL_NAME: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_ERROR: 500,
  BATCH_UNSUPPORTED: 501,
  HISTORY_UNSUPPORTED: 501,
  CREDENTIALS_DISABLED: 501,
  STORE_UNAVAILABLE: 503,
  AUTH_SERVER_UNAVAILABLE: 503,
  METRICS_UNAVAILABLE: 503,
  PLUGIN_INVALID: 500,
} as const satisfies Record<string, number>;

/** A stable, SCREAMING_SNAKE error code from {@link ERROR_STATUS}. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Options of a {@link GatewayError}. */
export interface GatewayErrorOptions {
  /** The foreign error this one wraps, kept for logs, never sent to clients. */
  cause?: unknown;
  /** Extra, client-safe details rendered with the error. */
  data?: Record<string, unknown>;
}

/**
 * The one error type of DynMCP. Foreign errors are wrapped once, at the boundary where they occur;
 * the admin API renders `{ code, error, error_code }` from it.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.data = options.data;
  }
}

/** True when `value` is a {@link GatewayError} (also across package copies). */
export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError || (value instanceof Error && value.name === 'GatewayError' && 'code' in value);
}

/**
 * True for a failure that no retry can mend, as a datasource's `open()` marks it (`data.permanent`:
 * a path that can never hold the store, say); the gateway then stops its start instead of retrying.
 */
export function isPermanentFailure(error: unknown): boolean {
  return isGatewayError(error) && error.data?.['permanent'] === true;
}
