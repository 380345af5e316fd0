import express, { type NextFunction, type Request, type Response } from 'express';
import type { McpGateway } from '@dynmcp/core';

/** Options of {@link createMcpRoute}. */
export interface McpRouteOptions {
  gateway: McpGateway;
  /** Authentication and instance access; runs after the Host/Origin guard. */
  access: express.RequestHandler;
  guard(req: Request, res: Response): boolean;
  bodyLimitBytes: number;
}

const jsonRpcError = (res: Response, status: number, code: number, message: string) =>
  res.status(status).json({ jsonrpc: '2.0', id: null, error: { code, message } });

/**
 * `/mcp/:instanceId`: Host/Origin guard, authentication and instance access, JSON body parsing with the configured limit (errors as
 * JSON-RPC errors: 413 too large, 400 parse error), then the MCP gateway. Bodies that are not JSON
 * are left unparsed so the SDK answers them (415).
 */
export function createMcpRoute(options: McpRouteOptions): express.RequestHandler[] {
  const parse = express.json({ limit: options.bodyLimitBytes, strict: false });
  return [
    (req, res, next) => {
      if (!options.guard(req, res)) return;
      // Streamable HTTP wants clients to accept JSON and SSE; a client that accepts anything
      // (curl's default `*/*`, or no Accept at all, as in the seed's examples) accepts both.
      const accept = req.headers.accept;
      if (accept === undefined || accept.trim() === '' || accept.trim() === '*/*') {
        req.headers.accept = req.method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream';
      }
      next();
    },
    options.access,
    (req, res, next) => {
      parse(req, res, (error?: unknown) => {
        if (error === undefined) return next();
        const type = (error as { type?: string }).type;
        if (type === 'entity.too.large') return jsonRpcError(res, 413, -32600, 'Request body too large');
        if (type === 'entity.parse.failed') return jsonRpcError(res, 400, -32700, 'Parse error: body is not valid JSON');
        return next(error);
      });
    },
    (req: Request, res: Response, next: NextFunction) => {
      options.gateway.handle(req, res, req.params.instanceId as string, req.body).catch(next);
    },
  ];
}
