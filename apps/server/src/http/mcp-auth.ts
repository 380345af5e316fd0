import type { NextFunction, Request, Response } from 'express';
import type { ConfigRegistry } from '@dynmcp/common';
import { isGatewayError, mayUseInstance, type AuthProvider } from '@dynmcp/plugin';
import { authenticate, UNAUTHORIZED_MESSAGE } from './authenticate.js';

const jsonRpcError = (res: Response, status: number, code: number, message: string) =>
  res.status(status).json({ jsonrpc: '2.0', id: null, error: { code, message } });

/**
 * Protects `/mcp/:instanceId`. A public instance is served to anyone. Otherwise the caller needs a
 * credential an auth provider accepts (401 otherwise, one body whether the instance exists or not)
 * and access to the instance (else the same 404 as an unknown instance, so a principal learns
 * nothing about instances it may not use).
 */
export function requireInstanceAccess(providers: readonly AuthProvider[], registry: ConfigRegistry) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const instanceId = req.params.instanceId as string;
    // Before the first load nothing is known; the gateway answers 503 itself.
    if (!registry.status().loaded) return next();
    const instance = registry.instance(instanceId)?.definition;
    if (instance?.public === true) return next();
    let principal;
    try {
      principal = await authenticate(providers, { headers: req.headers });
    } catch (error) {
      if (!isGatewayError(error) || error.code !== 'UNAUTHORIZED') return next(error);
    }
    if (principal === undefined) {
      res.setHeader('www-authenticate', 'Bearer');
      return jsonRpcError(res, 401, -32001, `Unauthorized: ${UNAUTHORIZED_MESSAGE}`);
    }
    req.principal = principal;
    if (instance === undefined || !mayUseInstance(principal, instance)) {
      return jsonRpcError(res, 404, -32001, `Unknown MCP instance "${instanceId}"`);
    }
    next();
  };
}
