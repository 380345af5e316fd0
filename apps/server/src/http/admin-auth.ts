import type { NextFunction, Request, Response } from 'express';
import { GatewayError, isGatewayError, type AuthProvider, type Principal } from '@dynmcp/plugin';
import { authenticate, UNAUTHORIZED_MESSAGE } from './authenticate.js';
import { retryAfterSeconds, tooManyFailuresMessage, type FailureLimiter } from './failure-limiter.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own extension point
  namespace Express {
    interface Request {
      /** Who is calling, once an auth provider decided. */
      principal?: Principal;
    }
  }
}

/**
 * Admits a request to the admin API when an auth provider recognises an admin principal. Missing
 * and wrong credentials get the same 401 body, so a caller learns nothing from the difference; a
 * client address with too many failures in the window (on this door and `/mcp` together: the
 * limiter is shared) gets 429 with `Retry-After` until the window has passed, whatever it sends.
 * The address is `req.clientAddress`, set by the request context.
 */
export function requireAdmin(providers: readonly AuthProvider[], limiter: FailureLimiter) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const client = req.clientAddress;
    try {
      const waitMs = limiter.blockedFor(client);
      if (waitMs > 0) {
        const retryAfter = retryAfterSeconds(waitMs);
        throw new GatewayError('TOO_MANY_REQUESTS', tooManyFailuresMessage(retryAfter), {
          data: { retry_after_seconds: retryAfter },
        });
      }
      let principal: Principal | undefined;
      try {
        principal = await authenticate(providers, { headers: req.headers });
      } catch (error) {
        if (isGatewayError(error) && error.code === 'UNAUTHORIZED') limiter.fail(client);
        throw error;
      }
      if (principal === undefined) {
        limiter.fail(client);
        throw new GatewayError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE);
      }
      if (!principal.admin) throw new GatewayError('FORBIDDEN', 'this credential may not use the admin API');
      req.principal = principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}
