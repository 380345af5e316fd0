import express, { type ErrorRequestHandler } from 'express';
import type { LiveDefinitions } from '@dynmcp/common';
import type { McpGateway } from '@dynmcp/core';
import { GatewayError, type AuthProvider, type Logger } from '@dynmcp/plugin';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createAdminRouter } from './admin/admin-router.js';
import type { AdminService } from './admin/admin-service.js';
import type { OpenApiImporter } from './admin/openapi-import.js';
import type { ClientAddressResolver } from './http/client-address.js';
import { sendError, toGatewayError } from './http/envelope.js';
import { createFailureLimiter } from './http/failure-limiter.js';
import { createMcpFront } from './http/mcp-front.js';
import { requestContext } from './http/request-context.js';

/** Everything the HTTP app needs; `main()` builds these, tests may build their own. */
export interface AppDeps {
  logger: Logger;
  definitions: LiveDefinitions;
  gateway: McpGateway;
  adminService: AdminService;
  authProviders: readonly AuthProvider[];
  mcpGuard(req: IncomingMessage, res: ServerResponse): boolean;
  bodyLimitBytes: number;
  /** `POST /admin/import/openapi` and its own body limit (API documents are larger than definitions). */
  openApiImport?: { importer: OpenApiImporter; bodyLimitBytes: number };
  /**
   * Failed authentications allowed per client address within the window (0: no limit), counted
   * over `/mcp` and `/admin` together.
   */
  authFailures: { maxFailures: number; windowMs: number };
  /** The one way both doors tell who a request comes from. */
  clientAddress: ClientAddressResolver;
}

/**
 * Builds the gateway's request listener without listening: `/mcp/<instanceId>` served on node:http
 * directly (the hot path), everything else (`/admin`, `/healthz`, `/readyz`) by an Express app.
 */
export function createApp(deps: AppDeps): RequestListener {
  // One limiter for both doors: an admin key opens /mcp too, so separate counts would let a
  // guesser spend each door's allowance in turn.
  const authFailures = createFailureLimiter(deps.authFailures);
  const mcp = createMcpFront({
    gateway: deps.gateway,
    definitions: deps.definitions,
    authProviders: deps.authProviders,
    authFailures,
    clientAddress: deps.clientAddress,
    guard: deps.mcpGuard,
    bodyLimitBytes: deps.bodyLimitBytes,
    logger: deps.logger,
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.logger, deps.clientAddress));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const status = deps.definitions.status();
    const body = {
      status: status.ready ? 'ready' : 'not_ready',
      revision: status.revision,
      loaded: status.loaded,
      stale_ms: status.staleMs,
      store: status.store,
      invalid_records: status.invalidRecords,
      ...(status.ready ? {} : { reason: status.store.reason ?? 'definitions not loaded yet' }),
    };
    res.status(status.ready ? 200 : 503).json(body);
  });

  app.use(
    '/admin',
    createAdminRouter({
      service: deps.adminService,
      authProviders: deps.authProviders,
      authFailures,
      bodyLimitBytes: deps.bodyLimitBytes,
      ...(deps.openApiImport === undefined
        ? {}
        : { openApiImporter: deps.openApiImport.importer, importBodyLimitBytes: deps.openApiImport.bodyLimitBytes }),
    }),
  );

  app.use((req, _res, next) => next(new GatewayError('NOT_FOUND', `no route ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    const gatewayError = toGatewayError(error, req.log ?? deps.logger);
    if (res.headersSent) {
      res.end();
      return;
    }
    sendError(res, gatewayError);
  };
  app.use(onError);
  return (req, res) => {
    if (!mcp(req, res)) app(req, res);
  };
}
