import type { Response } from 'express';
import { GatewayError, isGatewayError, type Logger } from '@dynmcp/plugin';

/** Sends the success envelope of the Rust project dynmcp: `{ code: 200, message: "success", data }`, plus `meta` when given. */
export function sendSuccess(res: Response, data: unknown, meta?: Record<string, unknown>): void {
  res.status(200).json(meta === undefined ? { code: 200, message: 'success', data } : { code: 200, message: 'success', data, meta });
}

/** Sends the error envelope: `{ code: <status>, error: <what to fix>, error_code: <STABLE_CODE> }`. */
export function sendError(res: Response, error: GatewayError): void {
  const body: Record<string, unknown> = { code: error.status, error: error.message, error_code: error.code };
  if (error.data !== undefined) body.details = error.data;
  if (error.code === 'UNAUTHORIZED') res.setHeader('www-authenticate', 'Bearer');
  const retryAfter = error.data?.retry_after_seconds;
  if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
  res.status(error.status).json(body);
}

/** body-parser's and the router's errors, as they arrive at the error middleware. */
interface FrameworkError {
  type?: string;
  status?: number;
  code?: string;
  message?: string;
}

/**
 * True when the client went away before its body arrived: raw-body's `request.aborted`, or
 * node's own `ECONNRESET` "aborted" error of an `IncomingMessage` destroyed mid-body.
 */
function isClientAbort(error: FrameworkError): boolean {
  return error.type === 'request.aborted' || (error.code === 'ECONNRESET' && error.message === 'aborted');
}

/**
 * Turns any error into a {@link GatewayError}, once: the one place foreign errors are wrapped.
 * Unknown errors become a 500 whose message says nothing of internals; the log gets the detail.
 */
export function toGatewayError(error: unknown, logger: Logger): GatewayError {
  if (isGatewayError(error)) return error;
  const parser = error as FrameworkError;
  if (isClientAbort(parser)) {
    // Nobody is there to answer, and nothing is wrong with the gateway: not an error line.
    logger.info('client went away before its request body ended');
    return new GatewayError('REQUEST_ABORTED', 'the client closed the connection before sending the whole body', { cause: error });
  }
  if (error instanceof URIError && parser.status === 400) {
    // The router could not percent-decode a path parameter, e.g. `/admin/tds/%FF`.
    return new GatewayError('INVALID_PATH', `${error.message}: percent-encode path segments as UTF-8 (encodeURIComponent)`, { cause: error });
  }
  if (parser.type === 'entity.too.large') {
    return new GatewayError('PAYLOAD_TOO_LARGE', 'request body is too large', { cause: error });
  }
  if (parser.type === 'entity.parse.failed') {
    return new GatewayError('INVALID_JSON', 'request body is not valid JSON', { cause: error });
  }
  if (parser.type === 'encoding.unsupported' || parser.type === 'charset.unsupported') {
    return new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'request body encoding is not supported', { cause: error });
  }
  logger.error('unexpected error', { error: (error as Error)?.message, stack: (error as Error)?.stack });
  return new GatewayError('INTERNAL_ERROR', 'internal error; see the gateway log', { cause: error });
}
