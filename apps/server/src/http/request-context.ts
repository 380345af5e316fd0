import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '@dynmcp/plugin';
import type { ClientAddressResolver } from './client-address.js';

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

/**
 * Gives every request an id (the caller's `x-request-id` when sane, else a new one; echoed in the
 * response), its client address and a child logger, and writes one access line per request when it
 * finishes.
 */
export function requestContext(logger: Logger, clientAddress: ClientAddressResolver) {
  const http = logger.child({ component: 'http' });
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    req.requestId = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    req.clientAddress = clientAddress.of(req);
    // Downstream layers (the MCP SDK's request view included) read the id from the header.
    req.headers['x-request-id'] = req.requestId;
    req.log = http.child({ requestId: req.requestId });
    res.setHeader('x-request-id', req.requestId);
    const started = performance.now();
    res.once('finish', () => {
      req.log.info('request', {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      });
    });
    next();
  };
}
