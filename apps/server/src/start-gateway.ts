import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkStoredCredentials,
  createCredentialCipher,
  createLiveCredentials,
  createLiveDefinitions,
  createSchemaCompiler,
  MAX_TIMER_MS,
  parseAdminKey,
  parseCredentialsKey,
  parsePreviousCredentialsKeys,
  parseSessionSecret,
  type LiveDefinitions,
  type GatewayConfig,
  type GatewayLogger,
} from '@dynmcp/common';
import { createMcpGateway, createRequestGuards, createToolCaller, NO_CALL_METRICS } from '@dynmcp/core';
import { consoleDir } from '@dynmcp/console';
import { GatewayError, isPermanentFailure, type DataSource, type Logger } from '@dynmcp/plugin';
import { createAdminEvents, type AdminEvents } from './admin/admin-events.js';
import { createCredentialAdmin } from './admin/admin-credentials.js';
import { createLogLevelOverride } from './admin/admin-log-level.js';
import { createAdminHistory } from './admin/admin-history.js';
import { createAdminService } from './admin/admin-service.js';
import { createToolTester } from './admin/tool-test.js';
import { createOpenApiImporter } from './admin/openapi-import.js';
import { createImportPlanner, DEFAULT_IMPORT_LIMITS } from './openapi/index.js';
import { createApp } from './app.js';
import { groupMetrics } from './cluster.js';
import { apiKeyPrincipalIds, builtinPlugins } from './builtins/index.js';
import { reserveApiKeyPrincipalIds } from './http/authenticate.js';
import { createClientAddressResolver } from './http/client-address.js';
import { createHttpServer, type HttpServerOptions } from './http/http-server.js';
import { authSettingsOf } from './http/oauth-resource.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics/gateway-metrics.js';
import { createMetricsListener } from './metrics/metrics-route.js';
import { loadPlugins } from './plugins/load-plugins.js';
import { createPluginHost } from './plugins/plugin-host.js';
import { SERVER_INFO } from './server-info.js';
import { createReplicaAnnouncer, createReplicaIdentity } from './replicas/replica-announcer.js';
import { replicaStatus } from './replicas/replica-status.js';
import { startTracing } from './tracing/gateway-tracing.js';

/** A running gateway. */
export interface RunningGateway {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  definitions: LiveDefinitions;
  /** The admin change stream, `GET /admin/events` (its open streams, for tests). */
  adminEvents: AdminEvents;
  /** Port of the listener of `GET /metrics` when it has one of its own (`metrics.port`). */
  metricsPort?: number;
  /** Graceful stop: refuse new connections, end sessions, close store and pools, in reverse order of start. */
  close(): Promise<void>;
}

/**
 * Admin keys the repository ships, known to anyone who reads it: config/development.json's
 * `your-api-key` (the README's curl examples) and config/example.json's. The gateway warns while
 * one is enabled, named or not.
 */
const PLACEHOLDER_ADMIN_KEYS = ['your-api-key', 'change-me-to-a-long-random-key'] as const;

/**
 * Opens the store, retrying with backoff (0.5 s doubling to 5 s) until it opens or the gateway
 * stops; a failure the datasource calls permanent is thrown at once.
 */
async function openWithRetry(datasource: DataSource, logger: Logger, stopped: () => boolean): Promise<void> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      await datasource.open();
      return;
    } catch (error) {
      if (stopped() || isPermanentFailure(error)) throw error;
      logger.warn('store not reachable; retrying', { error: (error as Error).message, retryInMs: delay });
      await sleep(delay, undefined, { ref: false });
      if (stopped()) throw error;
    }
  }
}

/**
 * Starts the whole gateway from a configuration: store, definitions, executors, MCP gateway, HTTP.
 * Everything that opens a socket, watch or timer is closed by `close()` in reverse order.
 */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  /** Source of `${env:NAME}` references in upstream headers, read at call time. */
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<RunningGateway> {
  const closers: Array<() => Promise<void>> = [];
  let closing = false;
  const closeAll = async () => {
    closing = true;
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };
  // The executors are built before the metrics (which follow the live definitions): they report
  // egress denials through this, bound once the metrics exist. With metrics off they get no hook.
  let metrics: GatewayMetrics | undefined;
  const onEgressDenied = config.metrics.enabled ? () => metrics?.calls.rejected('egress') : undefined;
  try {
    // First to start, last to close: the spans of the final requests are exported on the way out.
    const tracing = await startTracing(env, logger);
    if (tracing !== undefined) closers.push(() => tracing.close());
    // The per-principal credentials (`${principal:NAME}`): decrypted from the feed, read by the http executor.
    const credentialsKey = parseCredentialsKey(config.credentials.key);
    const previousKeys = parsePreviousCredentialsKeys(config.credentials.previousKeys);
    if (credentialsKey === undefined && previousKeys.length > 0) {
      throw new GatewayError(
        'INTERNAL_ERROR',
        'credentials.previousKeys (DYNMCP_CREDENTIALS_PREVIOUS_KEYS) is set but credentials.key (DYNMCP_CREDENTIALS_KEY) is not: previous keys only decrypt, set the current key too',
      );
    }
    const cipher = credentialsKey === undefined ? undefined : createCredentialCipher(credentialsKey, previousKeys);
    const credentials = createLiveCredentials({ cipher, logger });
    const plugins = createPluginHost(
      [...builtinPlugins(config, env, onEgressDenied, tracing?.tracer, credentials), ...(await loadPlugins(config.plugins, process.cwd()))],
      logger.child({ component: 'plugins' }),
    );
    const datasource = await plugins.createDataSource(config.datasource.type);
    closers.push(() => datasource.close());
    // The admin API's log level override, applied from the feed; a logger of another kind (a
    // library user's) has no level to change, and the gateway then has no /admin/log-level.
    const logLevel = isGatewayLogger(logger) ? createLogLevelOverride({ logger }) : undefined;
    if (logLevel !== undefined) closers.push(async () => logLevel.close());
    const compiler = createSchemaCompiler();
    const definitions = createLiveDefinitions({ datasource, compiler, logger, sinks: logLevel === undefined ? [credentials] : [credentials, logLevel] });
    closers.push(() => definitions.close());
    // The MCP gateway counts into the metrics, so it comes after them; they ask it for sessions.
    // With metrics off no registry or collector exists and every layer counts into NO_CALL_METRICS.
    let countSessions = () => 0;
    // In a cluster worker (server.workers) GET /metrics reports the whole group (cluster.ts).
    const gatewayMetrics = config.metrics.enabled ? groupMetrics(createGatewayMetrics({ definitions, sessions: () => countSessions() })) : undefined;
    metrics = gatewayMetrics;
    if (gatewayMetrics !== undefined) closers.push(async () => gatewayMetrics.close());
    else if (config.metrics.port !== null) logger.warn('metrics.enabled is false: metrics.port is ignored and no metrics listener is opened', { port: config.metrics.port });
    // The store may be down at start: connect in the background and serve (alive, not ready)
    // meanwhile; the live definitions load as soon as the store answers.
    let storeRefusal: unknown;
    const storeOpened = openWithRetry(datasource, logger, () => closing).catch((error: unknown) => {
      if (isPermanentFailure(error)) storeRefusal = error;
      throw error;
    });
    // Stored credentials this gateway cannot decrypt (no key, another key) stop the start: it would
    // otherwise fail every call needing one. A store that answers only after the start wait leaves
    // the gateway not ready, with the reason in the log.
    let credentialsRefusal: unknown;
    const credentialsChecked = storeOpened.then(async () => {
      try {
        const { count, underPreviousKeys } = await checkStoredCredentials(datasource, cipher);
        if (count > 0) logger.info('stored credentials checked', { credentials: count });
        if (underPreviousKeys > 0) {
          logger.warn('stored credentials under a previous credentials key; POST /admin/credentials/rotate re-encrypts them under credentials.key', {
            credentials: underPreviousKeys,
          });
        }
      } catch (error) {
        credentialsRefusal = error;
        logger.error('stored credentials cannot be read; definitions not loaded', { error: (error as Error).message });
        throw error;
      }
    });
    const loaded = credentialsChecked.then(() => definitions.start()).then(
      () => true,
      () => false,
    );
    closers.push(() => storeOpened.catch(() => undefined));
    // Closed before the store (reverse order): a graceful stop removes this replica's entry.
    const announcer = createReplicaAnnouncer({
      datasource,
      definitions,
      identity: createReplicaIdentity(SERVER_INFO.version),
      heartbeatMs: config.replicas.heartbeatMs,
      ttlMs: config.replicas.ttlMs,
      logger,
    });
    closers.push(() => announcer.close());
    if (config.mcp.sessionSecret === '') {
      const check = setTimeout(() => void warnOfUnsharedSessions(datasource, logger), Math.min(3 * config.replicas.heartbeatMs, MAX_TIMER_MS));
      check.unref();
      closers.push(async () => clearTimeout(check));
    }

    const executors = await plugins.createToolExecutors();
    for (const kind of executors.names()) closers.push(async () => executors.get(kind)?.close?.());
    const executorFor = (kind: string) => executors.get(kind);
    const auth = authSettingsOf(config);
    const authProviders = reserveApiKeyPrincipalIds(await plugins.createAuthProviders(auth.providers), apiKeyPrincipalIds(config), logger);

    const gateway = createMcpGateway({
      definitions,
      metrics: gatewayMetrics?.calls ?? NO_CALL_METRICS,
      ...(tracing === undefined ? {} : { tracer: tracing.tracer }),
      executorFor,
      logger,
      serverInfo: SERVER_INFO,
      sessionIdleTimeoutMs: config.mcp.sessionIdleTimeoutMs,
      // Validated when the configuration loaded; without one, sessions live in this process only.
      ...sessionSecretOf(config),
      sessionTtlMs: config.mcp.sessionTtlMs,
      revocationStore: datasource,
      maxSessions: config.mcp.maxSessions,
      maxSessionsPerPrincipal: config.mcp.maxSessionsPerPrincipal,
      principalLimits: config.limits.principal,
      maxResultBytes: config.mcp.maxResultBytes,
      toolsPageSize: config.mcp.toolsPageSize,
      maxRequestBodySize: config.server.bodyLimitBytes,
    });
    closers.push(() => gateway.close());
    countSessions = () => gateway.sessionCount();

    if (config.admin.apiKeys.length === 0 && !config.auth.keys.some((key) => key.admin)) {
      logger.warn('no admin API keys configured: the admin API refuses every request; set DYNMCP_API_KEYS');
    }
    for (const placeholder of PLACEHOLDER_ADMIN_KEYS) {
      if (config.admin.apiKeys.some((entry) => entry === placeholder || parseAdminKey(entry).key === placeholder)) {
        logger.warn(`the placeholder admin API key "${placeholder}" is enabled; set your own with DYNMCP_API_KEYS`);
      }
    }
    if (config.admin.maxAuthFailures !== null || config.admin.authFailureWindowMs !== null) {
      logger.warn(
        'admin.maxAuthFailures and admin.authFailureWindowMs are deprecated (the limit now covers /mcp too); use auth.maxFailures and auth.failureWindowMs (DYNMCP_AUTH_MAX_FAILURES, DYNMCP_AUTH_FAILURE_WINDOW_MS)',
        { maxFailures: config.auth.maxFailures, failureWindowMs: config.auth.failureWindowMs },
      );
    }
    const clientAddress = createClientAddressResolver(config.server.trustedProxies);
    const importLimits = { ...DEFAULT_IMPORT_LIMITS, maxBytes: config.admin.importBodyLimitBytes, timeoutMs: config.admin.importTimeoutMs };
    // Keeps an OpenAPI import worker started ahead of the next import (see plan-import.ts).
    const importPlanner = createImportPlanner(importLimits);
    closers.push(() => importPlanner.close());
    const adminService = createAdminService({
      datasource,
      definitions,
      compiler,
      executorFor,
      status: () => replicaStatus(datasource, announcer),
      logger,
    });
    // Ended with the MCP sessions when the listener stops: an open stream would hold it open.
    const adminEvents = createAdminEvents({ definitions, logger });
    const app = createApp({
      logger,
      definitions,
      gateway,
      ...(config.ui.enabled ? { consoleDir } : {}),
      adminService,
      adminEvents,
      adminHistory: createAdminHistory({ service: adminService, datasource }),
      adminCredentials: createCredentialAdmin({ datasource, definitions, cipher }),
      ...(logLevel === undefined ? {} : { adminLogLevel: { override: logLevel, datasource, definitions, logger } }),
      // Its own tool caller, without metrics: test calls are served by no instance, so they stay out of /metrics.
      toolTester: createToolTester({
        definitions,
        service: adminService,
        executorFor,
        callTool: createToolCaller({ executorFor, logger, maxResultBytes: config.mcp.maxResultBytes }),
      }),
      openApiImport: {
        importer: createOpenApiImporter({
          service: adminService,
          datasource,
          definitions,
          limits: importLimits,
          planner: importPlanner,
        }),
        bodyLimitBytes: config.admin.importBodyLimitBytes,
      },
      authProviders,
      ...(auth.publicUrl === undefined ? {} : { publicUrl: auth.publicUrl }),
      ...(auth.oauth === undefined ? {} : { oauth: auth.oauth }),
      mcpGuard: createRequestGuards({
        listenHost: config.server.host,
        allowedHosts: config.server.allowedHosts,
        allowedOrigins: config.server.allowedOrigins,
      }),
      bodyLimitBytes: config.server.bodyLimitBytes,
      authFailures: { maxFailures: config.auth.maxFailures, windowMs: config.auth.failureWindowMs },
      clientAddress,
      ...(tracing === undefined ? {} : { tracing: tracing.requests }),
      ...(gatewayMetrics === undefined
        ? {}
        : { metrics: { metrics: gatewayMetrics, access: config.metrics.port !== null ? 'elsewhere' : config.metrics.public ? 'public' : 'admin' } }),
    });

    // The main listener and the metrics listener (when it has its own port) run under the same limits.
    const httpOptions: HttpServerOptions = {
      requestTimeoutMs: config.server.requestTimeoutMs,
      headersTimeoutMs: config.server.headersTimeoutMs,
      keepAliveTimeoutMs: config.server.keepAliveTimeoutMs,
      maxConnectionsPerAddress: config.server.maxConnectionsPerAddress,
      clientAddress,
      logger,
    };
    const server: Server = createHttpServer(app, httpOptions);
    server.listen(config.server.port, config.server.host);
    await once(server, 'listening');
    closers.push(() => stopServer(server, () => adminEvents.close().then(gateway.close), config.server.shutdownGraceMs, logger));
    const metricsPort =
      config.metrics.port === null || gatewayMetrics === undefined ? undefined : await listenForMetrics(config, gatewayMetrics, httpOptions, closers);
    const ready = await Promise.race([loaded, sleep(config.datasource.startupWaitMs, false, { ref: false })]);
    if (storeRefusal !== undefined) throw storeRefusal;
    if (credentialsRefusal !== undefined) throw credentialsRefusal;
    if (!ready) logger.warn('store not reachable yet; serving as not ready until it is', { ...datasource.health() });
    const { port } = server.address() as AddressInfo;
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
    logger.info('gateway listening', { url, datasource: datasource.name, revision: definitions.revision });
    importPlanner.warmUp();
    return { url, port, definitions, adminEvents, ...(metricsPort === undefined ? {} : { metricsPort }), close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** True for the gateway's own logger (`createLogger`), whose level can change while it runs. */
function isGatewayLogger(logger: Logger): logger is GatewayLogger {
  return typeof (logger as Partial<GatewayLogger>).setLevel === 'function';
}

/**
 * Without `mcp.sessionSecret` a session works only on the replica that opened it. Once this
 * replica has announced itself, one look at the replica listing tells whether others share the
 * store (and so, likely, the clients): then say so once.
 */
async function warnOfUnsharedSessions(datasource: DataSource, logger: Logger): Promise<void> {
  const listing = await datasource.replicas?.().catch(() => undefined);
  if (listing === undefined || listing.replicas.length < 2) return;
  logger.warn(
    'several replicas share this store but mcp.sessionSecret is not set: a 2025-era session works only on the replica that opened it; give every replica the same DYNMCP_SESSION_SECRET',
    { replicas: listing.replicas.length },
  );
}

/** `mcp.sessionSecret` as the MCP gateway takes it: its bytes, or nothing when none is set. */
function sessionSecretOf(config: GatewayConfig): { sessionSecret?: Buffer } {
  const secret = parseSessionSecret(config.mcp.sessionSecret);
  return secret === undefined ? {} : { sessionSecret: secret };
}

/**
 * Serves `GET /metrics` on `metrics.port` (on `server.host`, with the main listener's timeouts and
 * connection cap); registers its close, which runs before the main listener's. Resolves with the port.
 */
async function listenForMetrics(
  config: GatewayConfig,
  metrics: GatewayMetrics,
  httpOptions: HttpServerOptions,
  closers: Array<() => Promise<void>>,
): Promise<number> {
  const { logger } = httpOptions;
  const server = createHttpServer(createMetricsListener(metrics, logger), httpOptions);
  server.listen(config.metrics.port ?? 0, config.server.host);
  await once(server, 'listening');
  closers.push(() => stopServer(server, async () => undefined, config.server.shutdownGraceMs, logger));
  const { port } = server.address() as AddressInfo;
  logger.info('metrics listening', { host: config.server.host, port });
  return port;
}

/**
 * Stops accepting connections, ends MCP sessions and admin event streams (open streams would hold the server open),
 * waits for in-flight requests up to `graceMs`, then drops whatever is left.
 */
async function stopServer(server: Server, endSessions: () => Promise<void>, graceMs: number, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A connection whose request finishes during the grace period would otherwise stay open for
  // the whole keep-alive timeout (`server.keepAliveTimeoutMs`, above a minute) before close ends.
  const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
  await endSessions();
  const timer = setTimeout(() => {
    // Requests still running lose their answers (the clients see the connection close): say so.
    logger.warn('shutdown grace period ran out; closing the connections of requests still in flight', { graceMs });
    server.closeAllConnections();
  }, graceMs);
  await closed;
  clearTimeout(timer);
  clearInterval(idleSweep);
}
