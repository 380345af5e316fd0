import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '@dynmcp/plugin';
import type { ClientAddressResolver } from './client-address.js';

/**
 * A caller's `x-request-id` is kept only when it is 1 to 128 printable ASCII characters without
 * spaces: it goes into log lines and back out as a response header.
 */
const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point
  namespace Express {
    interface Request {
      /** Id of this request: the caller's `x-request-id` when sane, else a new UUID. */
      requestId: string;
      /** Logger bound to this request's id. */
      log: Logger;
      /** Who sent it: see {@link ClientAddressResolver}. */
      clientAddress: string;
    }
  }
}

/** What every request gets on arrival, whichever door it came through. */
export interface RequestContext {
  /** The caller's `x-request-id` when sane, else a new UUID; echoed on the response. */
  readonly requestId: string;
  /** Who sent the request: see {@link ClientAddressResolver}. */
  readonly clientAddress: string;
  /** Logger bound to the request's id, made on first use: most /mcp requests never log. */
  readonly log: Logger;
}

/** Options of {@link createRequestContext}. */
export interface RequestContextOptions {
  logger: Logger;
  clientAddress: ClientAddressResolver;
  /**
   * Level of the one access line per request: `info` on the admin door; `debug` on /mcp, where
   * every tool call already writes its own info line and a second one would cost the hot path a
   * log write per request.
   */
  accessLevel: 'info' | 'debug';
}

/**
 * Starts a request: `path` is the access line's path, or how to read it once the request has
 * finished.
 */
export type StartRequest = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string | ((req: IncomingMessage) => string),
) => RequestContext;

class Context implements RequestContext {
  #log: Logger | undefined;

  constructor(
    readonly requestId: string,
    readonly clientAddress: string,
    private readonly http: Logger,
  ) {}

  get log(): Logger {
    return (this.#log ??= this.http.child({ requestId: this.requestId }));
  }
}

/**
 * The request context of both doors, the same rule once: gives every request an id (the caller's
 * `x-request-id` when sane, else a new one; written back into the request's headers and echoed on
 * the response), its client address and a logger, and writes one access line when it finishes.
 */
export function createRequestContext(options: RequestContextOptions): StartRequest {
  const http = options.logger.child({ component: 'http' });
  // Read again per line (not `http.info` kept once): the level may change while the gateway runs.
  const access: (message: string, meta: Record<string, unknown>) => void =
    options.accessLevel === 'info' ? (message, meta) => http.info(message, meta) : (message, meta) => http.debug(message, meta);
  return (req, res, path) => {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    // Downstream layers (the MCP SDK's request view included) read the id from the header.
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    const started = performance.now();
    // `on`, not `once`: a response finishes once, and `once` would allocate a wrapper per request.
    res.on('finish', () => {
      access('request', {
        requestId,
        method: req.method,
        path: typeof path === 'string' ? path : path(req),
        status: res.statusCode,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      });
    });
    return new Context(requestId, options.clientAddress.of(req), http);
  };
}

/**
 * The path the client asked for, without the query (which may carry values). Read from
 * `originalUrl`: a mounted router (`/admin`) rewrites `req.url` and `req.path` to its own part.
 */
const expressPath = (req: IncomingMessage) => {
  const url = (req as Request).originalUrl ?? req.url ?? '';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
};

/**
 * The request context as Express middleware, for the admin door (`/admin`, `/healthz`,
 * `/readyz`): sets `req.requestId`, `req.clientAddress` and `req.log`.
 */
export function requestContext(logger: Logger, clientAddress: ClientAddressResolver) {
  const start = createRequestContext({ logger, clientAddress, accessLevel: 'info' });
  return (req: Request, res: Response, next: NextFunction) => {
    const context = start(req, res, expressPath);
    req.requestId = context.requestId;
    req.clientAddress = context.clientAddress;
    req.log = context.log;
    next();
  };
}
