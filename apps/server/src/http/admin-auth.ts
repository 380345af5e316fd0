import type { NextFunction, Request, Response } from 'express';
import { GatewayError, type AuthProvider, type Principal } from '@dynmcp/plugin';

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
      let principal: Principal | undefined;
      for (const provider of providers) {
        principal = await provider.authenticate({ headers: req.headers });
        if (principal !== undefined) break;
      }
      if (principal === undefined) {
        throw new GatewayError('UNAUTHORIZED', 'missing or invalid API key; send Authorization: Bearer <key> or x-api-key: <key>');
      }
      if (!principal.admin) throw new GatewayError('FORBIDDEN', 'this credential may not use the admin API');
      req.principal = principal;
      next();
    } catch (error) {
      if (error instanceof GatewayError && error.code === 'UNAUTHORIZED') {
        next(new GatewayError('UNAUTHORIZED', 'missing or invalid API key; send Authorization: Bearer <key> or x-api-key: <key>'));
      } else {
        next(error);
      }
    }
  };
}
