import express, { type ErrorRequestHandler } from 'express';
import type { LiveDefinitions } from '@dynmcp/common';
import type { McpGateway } from '@dynmcp/core';
import { GatewayError, type AuthProvider, type Logger } from '@dynmcp/plugin';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createAdminRouter } from './admin/admin-router.js';
import { requireAdmin } from './http/admin-auth.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import { metricsHandler } from './metrics/metrics-route.js';
import type { McpRequestTracing } from './tracing/gateway-tracing.js';
import type { AdminEvents } from './admin/admin-events.js';
import type { CredentialAdmin } from './admin/admin-credentials.js';
import type { LogLevelAdminOptions } from './admin/admin-log-level.js';
import type { AdminHistory } from './admin/admin-history.js';
import type { AdminService } from './admin/admin-service.js';
import type { OpenApiImporter } from './admin/openapi-import.js';
import type { ToolTester } from './admin/tool-test.js';
import type { ClientAddressResolver } from './http/client-address.js';
import { sendError, toGatewayError } from './http/envelope.js';
import { createFailureLimiter } from './http/failure-limiter.js';
import { createConsoleRoute } from './http/console-route.js';
import { createMcpFront } from './http/mcp-front.js';
import type { OAuthResourceSettings } from './http/oauth-resource.js';
import { createOAuthRoutes } from './http/oauth-routes.js';
import { requestContext } from './http/request-context.js';

/** Everything the HTTP app needs; `main()` builds these, tests may build their own. */
export interface AppDeps {
  logger: Logger;
  definitions: LiveDefinitions;
  gateway: McpGateway;
  adminService: AdminService;
  /** History, rollback and audit of definitions (`/admin/{tds,ids}/:id/history`, `…/rollback`, `/admin/audit`). */
  adminHistory?: AdminHistory;
  /** Test calls of tools (`POST /admin/tds/:id/test`). */
  toolTester?: ToolTester;
  /** The per-principal credential store (`/admin/credentials`). */
  adminCredentials?: CredentialAdmin;
  /** The change stream, `GET /admin/events`; its owner ends its streams on shutdown. */
  adminEvents?: AdminEvents;
  /** The log level override, `/admin/log-level`. */
  adminLogLevel?: LogLevelAdminOptions;
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
  /**
   * The gateway's metrics: the MCP front counts its refusals into them, and `GET /metrics` serves
   * them here with an admin credential (`admin`), to anyone (`public`), or not at all when they
   * have a listener of their own (`elsewhere`, `metrics.port`).
   */
  metrics?: { metrics: GatewayMetrics; access: 'admin' | 'public' | 'elsewhere' };
  /** Server spans of `/mcp` requests, when tracing is on. */
  tracing?: McpRequestTracing;
  /** The web console at `/ui/` (`ui.enabled`): the folder of its built files; absent, `/ui/` is 404. */
  consoleDir?: string;
  /** `server.publicUrl`, when set: names each instance as a resource for the auth providers. */
  publicUrl?: string;
  /** OAuth on (`auth.oauth.issuer`): instance metadata and challenges; absent: key mode. */
  oauth?: OAuthResourceSettings;
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
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics.metrics.calls }),
    ...(deps.tracing === undefined ? {} : { tracing: deps.tracing }),
    ...(deps.publicUrl === undefined ? {} : { publicUrl: deps.publicUrl }),
    ...(deps.oauth === undefined ? {} : { oauth: deps.oauth }),
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

  if (deps.metrics !== undefined && deps.metrics.access !== 'elsewhere') {
    const serve = metricsHandler(deps.metrics.metrics, deps.logger);
    // Admin credentials, through the same providers and failure limiter as /admin.
    if (deps.metrics.access === 'admin') app.get('/metrics', requireAdmin(deps.authProviders, authFailures), serve);
    else app.get('/metrics', serve);
  }

  // OAuth discovery documents and endpoints, before /admin and the catch-all 404 (see oauth-routes.ts).
  app.use(createOAuthRoutes({ definitions: deps.definitions, ...(deps.oauth === undefined ? {} : { oauth: deps.oauth }) }));

  app.use(
    '/admin',
    createAdminRouter({
      service: deps.adminService,
      authProviders: deps.authProviders,
      authFailures,
      bodyLimitBytes: deps.bodyLimitBytes,
      ...(deps.adminHistory === undefined ? {} : { history: deps.adminHistory }),
      ...(deps.toolTester === undefined ? {} : { toolTester: deps.toolTester }),
      ...(deps.adminCredentials === undefined ? {} : { credentials: deps.adminCredentials }),
      ...(deps.adminEvents === undefined ? {} : { events: deps.adminEvents }),
      ...(deps.adminLogLevel === undefined ? {} : { logLevel: deps.adminLogLevel }),
      ...(deps.openApiImport === undefined
        ? {}
        : { openApiImporter: deps.openApiImport.importer, importBodyLimitBytes: deps.openApiImport.bodyLimitBytes }),
    }),
  );

  if (deps.consoleDir !== undefined) app.use('/ui', createConsoleRoute({ dir: deps.consoleDir, logger: deps.logger }));

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
