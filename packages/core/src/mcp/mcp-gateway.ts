import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DefinitionsChange, InstanceView, LiveDefinitions } from '@dynmcp/common';
import type { DataSource, Logger, Principal, ToolExecutor } from '@dynmcp/plugin';
import { toNodeHandler, type NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isInitializeRequest, type McpHttpHandler } from '@modelcontextprotocol/server';
import { createCallLimiter, type PrincipalLimits } from './call-limits.js';
import { countRequest, NO_CALL_METRICS, type CallMetrics } from './call-metrics.js';
import { createFastPath, isFastRequest } from './fast-path.js';
import { createSessionFastPath, createSessionlessFastPath, isSessionlessFastRequest } from './legacy-fast-path.js';
import { createInstanceServerFactory, DEFAULT_TOOLS_PAGE_SIZE } from './instance-server.js';
import { servesCaller } from './instance-access.js';
import { JsonRpcErrorCode } from './json-rpc-errors.js';
import { replyJsonRpc } from './json-rpc-reply.js';
import { ownerKey, tagRequest, type McpCaller } from './mcp-caller.js';
import { checkRequest, MODERN_PROTOCOL_VERSION } from './request-checks.js';
import { limitedToolName, servedView, withSearchTools } from './search-mode.js';
import { toolIndexOf } from './tool-search.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import { createSessionLogLevels } from './session-log-levels.js';
import { createSessionRevocations } from './session-revocations.js';
import { createSessionTokens, DEFAULT_SESSION_TTL_MS, randomSessionSecret } from './session-token.js';
import { createToolCaller } from './tool-call.js';
import type { Tracer } from '../call-tracing.js';

/** Options of {@link createMcpGateway}. */
export interface McpGatewayOptions {
  definitions: LiveDefinitions;
  executorFor(kind: string): ToolExecutor | undefined;
  logger: Logger;
  serverInfo: { name: string; version: string };
  /** A 2025-era session held without requests or an open stream for this long is dropped from memory (its token stays valid). */
  sessionIdleTimeoutMs: number;
  /**
   * The key that signs session ids (`mcp.sessionSecret`), the same on every replica that should
   * serve every session; absent: a random one, so sessions live only in this process.
   */
  sessionSecret?: Uint8Array;
  /** How long a 2025-era session lasts from its initialize (`mcp.sessionTtlMs`); default 24 h. */
  sessionTtlMs?: number;
  /**
   * Where ended sessions (DELETE) and sessions' log levels (`logging/setLevel`) are recorded for the
   * other replicas, which learn them from the feed of `definitions`; used only with a
   * `sessionSecret` (without one no other replica could serve the session anyway).
   */
  revocationStore?: DataSource;
  maxSessions: number;
  /** Most sessions one caller may hold (`mcp.maxSessionsPerPrincipal`; 0: only `maxSessions` applies). */
  maxSessionsPerPrincipal: number;
  /** Per-caller limits of tools/call (`limits.principal.*`; 0 turns one off). */
  principalLimits: PrincipalLimits;
  /** Largest tool result as sent (`mcp.maxResultBytes`); default 32 MiB. */
  maxResultBytes?: number;
  /** Largest request body the SDK reads itself (when the body was not parsed before). */
  maxRequestBodySize: number;
  /** Window in which a burst of changes collapses into one notification. Default 25 ms. */
  notifyCoalesceMs?: number;
  /** Most tools per `tools/list` page (`mcp.toolsPageSize`); default 100. */
  toolsPageSize?: number;
  /** Where requests, refusals and tool calls are counted; default {@link NO_CALL_METRICS}. */
  metrics?: CallMetrics;
  /** Traces tool calls (see call-tracing.ts); default none. The HTTP layer traces the request itself. */
  tracer?: Tracer;
}

/** Serves every instance's MCP endpoint; the HTTP layer hands it requests for `/mcp/:instanceId`. */
export interface McpGateway {
  /**
   * Answers one request for the instance `view` shows. The HTTP layer resolved the instance once
   * (`LiveDefinitions.instance`; it answers 503 before the first load and 404 for an unknown
   * instance) and hands its view down, so the routes never look it up again. `body` is the parsed
   * JSON body when a body parser ran before (POST), `undefined` otherwise. Host/Origin checks and
   * auth happen before this; `caller` says who passed them: sessions belong to it, and its
   * tools/call count against its limits.
   */
  handle(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown, caller: McpCaller): Promise<void>;
  /** Open 2025-era sessions. */
  sessionCount(instanceId?: string): number;
  close(): Promise<void>;
}

interface ModernEndpoint {
  handler: McpHttpHandler;
  node: NodeMcpRequestHandler;
}

/**
 * The tool names the `tools/call` messages of a body (one message, or a 2025-03-26 batch) count
 * against in the limits (a search-mode `call_tool` counts as its target, search-mode.ts);
 * `undefined` when it has none.
 */
function toolCallNames(body: unknown, view: InstanceView): unknown[] | undefined {
  if (!Array.isArray(body)) return isToolCall(body) ? [limitedToolName(view, body.params)] : undefined;
  let names: unknown[] | undefined;
  for (const message of body) if (isToolCall(message)) (names ??= []).push(limitedToolName(view, message.params));
  return names;
}

function isToolCall(message: unknown): message is { params?: { name?: unknown; arguments?: unknown } } {
  return message !== null && typeof message === 'object' && (message as { method?: unknown }).method === 'tools/call';
}

/** The JSON-RPC error(s) of a refused body: one per request of a batch, each with its id. */
function errorReply(body: unknown, error: { code: number; message: string; data?: Record<string, unknown> }): unknown {
  const reply = (id: unknown) => ({ jsonrpc: '2.0', id: typeof id === 'string' || typeof id === 'number' ? id : null, error });
  if (!Array.isArray(body)) return reply((body as { id?: unknown } | undefined)?.id);
  const ids = body.map((message) => (message as { id?: unknown } | null)?.id).filter((id) => id !== undefined);
  return ids.length === 0 ? reply(null) : ids.map(reply);
}

/** Which part of the gateway answers a request; see {@link routeOf}. */
export type McpRoute = 'fast' | 'fast-legacy' | 'session' | 'sdk';

/**
 * The dispatch table of `/mcp/<instanceId>`: which route answers a request that passed the request
 * checks and the call limits. Rows are tried in order; the first that matches wins.
 *
 *   route         era         instance   requests                              answered by
 *   'fast'        2026-07-28  any        a plain session-less POST of          fast-path.ts (createFastPath)
 *                                        tools/list (any page) or tools/call:
 *                                        no progress token or log level, no
 *                                        cursor but the gateway's own,
 *                                        headers matching the body
 *   'fast-legacy' 2025        any        a plain session-less POST of          legacy-fast-path.ts
 *                                        tools/list (one page) or tools/call   (createSessionlessFastPath), with the
 *                                        without _meta or Mcp-Method header    answer of the SDK's stateless legacy leg
 *   'session'     2025        stateful   POST initialize, any request with     session-store.ts; plain tools/list and
 *                                        Mcp-Session-Id (but a 2026-07-28      tools/call of a live session by its own
 *                                        one: that revision has no sessions),  fast path (legacy-fast-path.ts)
 *                                        the GET stream, DELETE
 *   'sdk'         2026-07-28  any        everything else: server/discover,     the instance's createMcpHandler of the
 *                                        subscriptions/listen, progress,       official SDK (its 2026-07-28 leg),
 *                                        foreign cursors, every error answer           servers from instance-server.ts
 *                 2025        stateless  every other request                   the same handler's stateless legacy leg
 *                 2025        stateful   any other session-less request that   the same handler's stateless legacy leg
 *                                        is not initialize (a batch, a call
 *                                        with _meta, other methods)
 */
export function routeOf(req: IncomingMessage, body: unknown, view: InstanceView, pageSize: number): McpRoute {
  if (isFastRequest(req, body)) return 'fast';
  if (isSessionlessFastRequest(req, body, view, pageSize)) return 'fast-legacy';
  if (
    view.protoType === 'streamable-stateful' &&
    req.headers['mcp-protocol-version'] !== MODERN_PROTOCOL_VERSION &&
    (req.method === 'GET' ||
      req.method === 'DELETE' ||
      req.headers['mcp-session-id'] !== undefined ||
      (req.method === 'POST' && isInitializeRequest(body)))
  ) {
    return 'session';
  }
  return 'sdk';
}

/**
 * Before routing, every request passes the same checks (request-checks.ts: protocol version,
 * batches, nesting depth) and every tools/call the same limits (call-limits.ts), so no route can
 * skip them; then {@link routeOf} picks the route. Every route runs tool calls through the one
 * tool caller (tool-call.ts). Definition changes become `list_changed` notifications on 2025-era
 * sessions and 2026-07-28 `subscriptions/listen` streams, coalesced per instance, and end the
 * 2025-era sessions the changed instance no longer serves (SessionStore.endUnserved).
 */
export function createMcpGateway(options: McpGatewayOptions): McpGateway {
  const logger = options.logger.child({ component: 'mcp-gateway' });
  // One tool caller for every route, so each runs calls (validation, executor, output check, log line) alike.
  const callTool = withSearchTools(createToolCaller(options));
  const limiter = createCallLimiter({ principal: options.principalLimits });
  // `sessions` is made below; a server asks it for a session's level only while serving a request.
  const createServer = createInstanceServerFactory({ ...options, callTool, sessionLogLevel: (sessionId) => sessions.logLevelOf(sessionId) });
  const pageSize = options.toolsPageSize ?? DEFAULT_TOOLS_PAGE_SIZE;
  const metrics = options.metrics ?? NO_CALL_METRICS;
  const fastDeps = { serverInfo: options.serverInfo, pageSize, revision: () => options.definitions.revision, callTool, metrics };
  const answerFast = createFastPath(fastDeps);
  const answerSessionless = createSessionlessFastPath(fastDeps);
  // Session records (ended sessions, log levels) go to the store only when other replicas can
  // serve the sessions: with a shared secret.
  const sharedStore =
    options.sessionSecret === undefined || options.revocationStore === undefined
      ? {}
      : { datasource: options.revocationStore, definitions: options.definitions };
  const revocations = createSessionRevocations({ ...sharedStore, logger });
  const logLevels = createSessionLogLevels({ ...sharedStore, logger });
  const sessions: SessionStore = createSessionStore({
    createServer,
    tokens: createSessionTokens({ secret: options.sessionSecret ?? randomSessionSecret(), ttlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS }),
    revocations,
    logLevels,
    fastPath: createSessionFastPath(fastDeps),
    idleTimeoutMs: options.sessionIdleTimeoutMs,
    maxSessions: options.maxSessions,
    maxSessionsPerOwner: options.maxSessionsPerPrincipal,
    logger,
  });
  const endpoints = new Map<string, ModernEndpoint>();
  const pending = new Map<string, 'changed' | 'deleted'>();
  let flushTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function endpoint(instanceId: string): ModernEndpoint {
    let entry = endpoints.get(instanceId);
    if (entry === undefined) {
      // 2025-era requests reach this handler only session-less (stateless): they have no stream a
      // list_changed could reach them on, so their initialize must not promise one.
      const handler = createMcpHandler((ctx) => createServer(instanceId, { listChanged: ctx.era === 'modern' }), {
        maxRequestBodySize: options.maxRequestBodySize,
        onerror: (error) => logger.debug('mcp request refused', { instanceId, error: error.message }),
      });
      entry = { handler, node: toNodeHandler(handler) };
      endpoints.set(instanceId, entry);
    }
    return entry;
  }

  async function flush() {
    flushTimer = undefined;
    const batch = [...pending];
    pending.clear();
    for (const [instanceId, what] of batch) {
      const view = what === 'changed' ? options.definitions.instance(instanceId) : undefined;
      // Sessions the instance no longer serves end, their GET streams with them: all of a deleted
      // or now stateless instance, and those of callers the change took it from, whose requests
      // the access check refuses from now on.
      await sessions.endUnserved(instanceId, view);
      endUnservedListens(instanceId, view);
      if (view === undefined) {
        // Deleted: end its listen streams too; clients then get 404 for the instance.
        const entry = endpoints.get(instanceId);
        endpoints.delete(instanceId);
        await entry?.handler.close().catch(() => undefined);
        continue;
      }
      sessions.notifyToolsChanged(instanceId);
      endpoints.get(instanceId)?.handler.notify.toolsChanged();
      // A search-mode instance's index is built now, in slices, rather than on its first search.
      // A failure shows again on the search that awaits the same index; here it is only logged, never left unhandled.
      if (view.definition.tool_mode === 'search') {
        toolIndexOf(view).catch((error: unknown) => logger.error('search index not built', { instance: instanceId, error: (error as Error).message }));
      }
    }
  }

  const unsubscribe = options.definitions.onChange((change: DefinitionsChange) => {
    if (closed) return;
    for (const id of change.changedInstances) pending.set(id, 'changed');
    for (const id of change.deletedInstances) pending.set(id, 'deleted');
    flushTimer ??= setTimeout(() => void flush(), options.notifyCoalesceMs ?? 25);
  });

  /** Answers a request the request checks refuse (request-checks.ts); true when it did. */
  function refused(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown): boolean {
    const refusal = checkRequest(req, body);
    if (refusal === undefined) return false;
    metrics.rejected('protocol');
    logger.debug('mcp request refused', { instanceId: view.id, code: refusal.code, error: refusal.message });
    const { code, message, data } = refusal;
    replyJsonRpc(res, refusal.status, { jsonrpc: '2.0', id: refusal.id, error: { code, message, ...(data && { data }) } });
    return true;
  }

  /** Open 2026-07-28 `subscriptions/listen` streams per caller on this replica. */
  const listening = new Map<string, number>();
  /** The same streams per instance, with the principal of each (`undefined`: anonymous). */
  const listenStreams = new Map<string, Map<ServerResponse, Principal | undefined>>();

  /**
   * Ends the `subscriptions/listen` streams of callers a definition change took the instance from
   * (instance-access.ts), as the 2025-era sessions' GET streams end (SessionStore.endUnserved); a
   * deleted instance's end with its handler. The SDK keeps no handle on one caller's stream, so its
   * connection is closed: the client sees the stream end unexpectedly, and a new listen is refused
   * by the access check.
   */
  function endUnservedListens(instanceId: string, view: InstanceView | undefined): void {
    const streams = listenStreams.get(instanceId);
    if (streams === undefined || view === undefined) return;
    for (const [res, principal] of streams) if (!servesCaller(principal, view.definition)) res.destroy();
  }

  /**
   * Counts a `subscriptions/listen` stream against its caller's cap, `mcp.maxSessionsPerPrincipal`
   * (0: none), as a 2025-era session's GET stream counts through its session: each holds a
   * response open for as long as the client likes. Answers 429 and returns true above the cap;
   * otherwise notes the stream until it closes.
   */
  function overListenCap(req: IncomingMessage, res: ServerResponse, body: unknown, owner: string, instanceId: string, principal: Principal | undefined): boolean {
    if (req.method !== 'POST' || body === null || typeof body !== 'object' || (body as { method?: unknown }).method !== 'subscriptions/listen') return false;
    const cap = options.maxSessionsPerPrincipal;
    const held = listening.get(owner) ?? 0;
    if (cap > 0 && held >= cap) {
      metrics.rejected('limits');
      const message =
        `Too many listen streams: caller "${owner}" holds ${cap}, the most one caller may (mcp.maxSessionsPerPrincipal); ` +
        'close unused subscriptions/listen streams first';
      replyJsonRpc(res, 429, errorReply(body, { code: JsonRpcErrorCode.ServerError, message }));
      return true;
    }
    listening.set(owner, held + 1);
    let streams = listenStreams.get(instanceId);
    if (streams === undefined) listenStreams.set(instanceId, (streams = new Map()));
    streams.set(res, principal);
    res.once('close', () => {
      const left = (listening.get(owner) ?? 1) - 1;
      if (left > 0) listening.set(owner, left);
      else listening.delete(owner);
      streams.delete(res);
      if (streams.size === 0 && listenStreams.get(instanceId) === streams) listenStreams.delete(instanceId);
    });
    return false;
  }

  /**
   * Admits the request's tool calls under the caller's limits (call-limits.ts) and tags the request
   * with its lease for the tool caller; answers 429 and returns true when a limit refuses them.
   */
  function overLimit(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown, owner: string, caller: McpCaller): boolean {
    const calls = req.method === 'POST' ? toolCallNames(body, view) : undefined;
    if (calls === undefined) return false;
    // Over a limit, the calls are answered at once and never reach an upstream; nothing queues.
    const admission = limiter.admit(owner, view, calls);
    if (!admission.admitted) {
      metrics.rejected('limits');
      const { message, retryAfterSeconds } = admission;
      logger.info('tool call refused by a limit', { instanceId: view.id, caller: owner, calls: calls.length, error: message });
      const error = { code: JsonRpcErrorCode.ServerError, message, data: { retryAfterSeconds } };
      replyJsonRpc(res, 429, errorReply(body, error), { 'retry-after': String(retryAfterSeconds) });
      return true;
    }
    const lease = admission.lease;
    if (lease !== undefined) res.once('close', () => lease.end());
    tagRequest(req, { owner, lease, principal: caller.principal });
    return false;
  }

  return {
    async handle(req, res, view, body, caller) {
      countRequest(metrics, req, body);
      if (refused(req, res, view, body)) return;
      const owner = ownerKey(caller);
      if (overLimit(req, res, view, body, owner, caller)) return;
      if (overListenCap(req, res, body, owner, view.id, caller.principal)) return;
      // The limits read the catalogue (a call_tool's target); the routes serve what clients see.
      const served = servedView(view);
      switch (routeOf(req, body, served, pageSize)) {
        case 'fast':
          return answerFast(req, res, served, body);
        case 'fast-legacy':
          return answerSessionless(req, res, served, body);
        case 'session':
          return sessions.handle(req, res, body, served, { owner, principal: caller.principal });
        case 'sdk':
          return endpoint(view.id).node(req, res, body);
      }
    },
    sessionCount: (instanceId) => sessions.count(instanceId),
    async close() {
      closed = true;
      unsubscribe();
      if (flushTimer) clearTimeout(flushTimer);
      await sessions.close();
      await revocations.close();
      await logLevels.close();
      await Promise.all([...endpoints.values()].map((entry) => entry.handler.close().catch(() => undefined)));
      endpoints.clear();
    },
  };
}
