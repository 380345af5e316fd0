import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveDefinitions, DefinitionsChange } from '@dynmcp/common';
import type { Logger, ToolExecutor } from '@dynmcp/plugin';
import { toNodeHandler, type NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isInitializeRequest, type McpHttpHandler } from '@modelcontextprotocol/server';
import { createCallLimiter, type PrincipalLimits } from './call-limits.js';
import { createFastPath, createSessionFastPath } from './fast-path.js';
import { createInstanceServerFactory, DEFAULT_TOOLS_PAGE_SIZE } from './instance-server.js';
import { replyJsonRpc, replyJsonRpcError } from './json-rpc-reply.js';
import { ownerKey, tagRequest, type McpCaller } from './mcp-caller.js';
import { checkRequest } from './request-checks.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import { createToolCaller } from './tool-call.js';

/** Options of {@link createMcpGateway}. */
export interface McpGatewayOptions {
  definitions: LiveDefinitions;
  executorFor(kind: string): ToolExecutor | undefined;
  logger: Logger;
  serverInfo: { name: string; version: string };
  sessionIdleTimeoutMs: number;
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
  /** Most tools per `tools/list` page (`mcp.toolsPageSize`); default 500. */
  toolsPageSize?: number;
}

/** Serves every instance's MCP endpoint; the HTTP layer hands it requests for `/mcp/:instanceId`. */
export interface McpGateway {
  /**
   * Answers one request for an instance. `body` is the parsed JSON body when a body parser ran
   * before (POST), `undefined` otherwise. Host/Origin checks and auth happen before this; `caller`
   * says who passed them: sessions belong to it, and its tools/call count against its limits.
   */
  handle(req: IncomingMessage, res: ServerResponse, instanceId: string, body: unknown, caller: McpCaller): Promise<void>;
  /** Open 2025-era sessions. */
  sessionCount(instanceId?: string): number;
  close(): Promise<void>;
}

interface ModernEndpoint {
  handler: McpHttpHandler;
  node: NodeMcpRequestHandler;
}

/** The `tools/call` names of a body (one message, or a 2025-03-26 batch); `undefined` when it has none. */
function toolCallNames(body: unknown): unknown[] | undefined {
  if (!Array.isArray(body)) return isToolCall(body) ? [body.params?.name] : undefined;
  let names: unknown[] | undefined;
  for (const message of body) if (isToolCall(message)) (names ??= []).push(message.params?.name);
  return names;
}

function isToolCall(message: unknown): message is { params?: { name?: unknown } } {
  return message !== null && typeof message === 'object' && (message as { method?: unknown }).method === 'tools/call';
}

/** The JSON-RPC error(s) of a refused body: one per request of a batch, each with its id. */
function errorReply(body: unknown, error: { code: number; message: string; data?: Record<string, unknown> }): unknown {
  const reply = (id: unknown) => ({ jsonrpc: '2.0', id: typeof id === 'string' || typeof id === 'number' ? id : null, error });
  if (!Array.isArray(body)) return reply((body as { id?: unknown } | undefined)?.id);
  const ids = body.map((message) => (message as { id?: unknown } | null)?.id).filter((id) => id !== undefined);
  return ids.length === 0 ? reply(null) : ids.map(reply);
}

/**
 * Before routing, every request passes the same checks (request-checks.ts: protocol version,
 * batches, nesting depth) and every tools/call the same limits (call-limits.ts), so no leg can
 * skip them. Then each request is routed by protocol era and instance mode:
 * - 2026-07-28 requests (per-request `_meta` envelope) go to the instance's `createMcpHandler`;
 * - 2025-era sessions on a stateful instance (`initialize`, then `Mcp-Session-Id`, GET stream,
 *   DELETE) go to its session store;
 * - other 2025-era requests go to the same handler's stateless legacy leg.
 * Definition changes become `list_changed` notifications on both legs, coalesced per instance.
 */
export function createMcpGateway(options: McpGatewayOptions): McpGateway {
  const logger = options.logger.child({ component: 'mcp-gateway' });
  // One tool caller for every leg, so each runs calls (validation, executor, output check, log line) alike.
  const callTool = createToolCaller(options);
  const limiter = createCallLimiter({ principal: options.principalLimits });
  const createServer = createInstanceServerFactory({ ...options, callTool });
  const fastDeps = {
    definitions: options.definitions,
    serverInfo: options.serverInfo,
    pageSize: options.toolsPageSize ?? DEFAULT_TOOLS_PAGE_SIZE,
    callTool,
  };
  const tryFastPath = createFastPath(fastDeps);
  const sessions: SessionStore = createSessionStore({
    createServer,
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
      if (view === undefined) {
        // Deleted: end its sessions and listen streams; clients then get 404 for the instance.
        await sessions.closeInstance(instanceId);
        const entry = endpoints.get(instanceId);
        endpoints.delete(instanceId);
        await entry?.handler.close().catch(() => undefined);
        continue;
      }
      if (view.protoType === 'streamable-stateless') await sessions.closeInstance(instanceId);
      sessions.notifyToolsChanged(instanceId);
      endpoints.get(instanceId)?.handler.notify.toolsChanged();
    }
  }

  const unsubscribe = options.definitions.onChange((change: DefinitionsChange) => {
    if (closed) return;
    for (const id of change.changedInstances) pending.set(id, 'changed');
    for (const id of change.deletedInstances) pending.set(id, 'deleted');
    flushTimer ??= setTimeout(() => void flush(), options.notifyCoalesceMs ?? 25);
  });

  return {
    async handle(req, res, instanceId, body, caller) {
      const view = options.definitions.instance(instanceId);
      if (view === undefined && !options.definitions.status().loaded) {
        return replyJsonRpcError(res, 503, -32000, 'Definitions not loaded yet; retry shortly', { 'retry-after': '1' });
      }
      if (view === undefined) {
        return replyJsonRpcError(res, 404, -32001, `Unknown MCP instance "${instanceId}"`);
      }
      const refusal = checkRequest(req, body);
      if (refusal !== undefined) {
        logger.debug('mcp request refused', { instanceId, code: refusal.code, error: refusal.message });
        const { code, message, data } = refusal;
        return replyJsonRpc(res, refusal.status, { jsonrpc: '2.0', id: refusal.id, error: { code, message, ...(data && { data }) } });
      }
      const owner = ownerKey(caller);
      const calls = req.method === 'POST' ? toolCallNames(body) : undefined;
      if (calls !== undefined) {
        // Over a limit, the calls are answered at once and never reach an upstream; nothing queues.
        const admission = limiter.admit(owner, view, calls);
        if (!admission.admitted) {
          const { message, retryAfterSeconds } = admission;
          logger.info('tool call refused by a limit', { instanceId, caller: owner, calls: calls.length, error: message });
          const error = { code: -32000, message, data: { retryAfterSeconds } };
          return replyJsonRpc(res, 429, errorReply(body, error), { 'retry-after': String(retryAfterSeconds) });
        }
        const lease = admission.lease;
        if (lease !== undefined) res.once('close', () => lease.end());
        tagRequest(req, { owner, lease });
      }
      // Plain 2026-07-28 tools/list and tools/call skip the per-request SDK server (see fast-path.ts).
      if (req.method === 'POST' && req.headers['mcp-session-id'] === undefined && tryFastPath(req, res, view, body)) return;
      // A 2025-era session starts with `initialize` and then carries its id; everything else,
      // including a plain session-less JSON-RPC POST (the seed's curl example), is answered
      // per request by the instance handler: 2026-07-28 traffic, or the stateless 2025 leg.
      if (
        view.protoType === 'streamable-stateful' &&
        (req.method === 'GET' ||
          req.method === 'DELETE' ||
          req.headers['mcp-session-id'] !== undefined ||
          (req.method === 'POST' && isInitializeRequest(body)))
      ) {
        return sessions.handle(req, res, body, instanceId, owner);
      }
      await endpoint(instanceId).node(req, res, body);
    },
    sessionCount: (instanceId) => sessions.count(instanceId),
    async close() {
      closed = true;
      unsubscribe();
      if (flushTimer) clearTimeout(flushTimer);
      await sessions.close();
      await Promise.all([...endpoints.values()].map((entry) => entry.handler.close().catch(() => undefined)));
      endpoints.clear();
    },
  };
}
