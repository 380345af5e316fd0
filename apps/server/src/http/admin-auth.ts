import type { NextFunction, Request, Response } from 'express';
import { GatewayError, type AuthProvider, type Principal } from '@dynmcp/plugin';
import { authenticate, UNAUTHORIZED_MESSAGE } from './authenticate.js';

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
 * and wrong credentials get the same 401 body, so a caller learns nothing from the difference.
 */
export function requireAdmin(providers: readonly AuthProvider[]) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const principal = await authenticate(providers, { headers: req.headers });
      if (principal === undefined) throw new GatewayError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE);
      if (!principal.admin) throw new GatewayError('FORBIDDEN', 'this credential may not use the admin API');
      req.principal = principal;
      next();
    } catch (error) {
      next(error);
    }
  };
}
