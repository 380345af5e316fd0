import type { LiveDefinitions } from '@dynmcp/common';
import type { Logger, ToolExecutor, ToolLogLevel } from '@dynmcp/plugin';
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { Cancellation } from '../cancellation.js';
import type { CallMetrics } from './call-metrics.js';
import { callTagOf } from './mcp-caller.js';
import { servedView, withSearchTools } from './search-mode.js';
import { belowLevel } from './session-log-levels.js';
import { createToolCaller, type ToolCaller, type ToolCallRequestContext } from './tool-call.js';
import { pageOfTools } from './tool-pages.js';

/**
 * The default `tools/list` page size (`mcp.toolsPageSize`): small enough that a client compiling
 * every output schema of a page (the official SDK client does) answers each page quickly.
 */
export const DEFAULT_TOOLS_PAGE_SIZE = 100;

/** What every per-instance MCP server needs; built once by the gateway and shared. */
export interface InstanceServerDeps {
  definitions: LiveDefinitions;
  /** Finds the executor of a tool kind (`http` when a tool names none). */
  executorFor(kind: string): ToolExecutor | undefined;
  logger: Logger;
  serverInfo: { name: string; version: string };
  /** Most tools per `tools/list` page; default {@link DEFAULT_TOOLS_PAGE_SIZE}. */
  toolsPageSize?: number;
  /** Runs tool calls; built from the other deps when absent (the gateway shares one with its fast path). */
  callTool?: ToolCaller;
  /** Counts calls of unknown tools (the calls themselves are counted by the tool caller). */
  metrics?: CallMetrics;
  /**
   * The log level the 2025-era session with this id set through any replica (session-log-levels.ts).
   * With it, `logging/setLevel` is answered here without the SDK keeping a level of its own, and
   * tool log messages below the session's level are dropped, so every replica sends a session the
   * same messages.
   */
  sessionLogLevel?(sessionId: string): ToolLogLevel | undefined;
}

/** What one server may promise its client. */
export interface InstanceServerOptions {
  /**
   * Declare `tools.listChanged` (default true). Only a server that can deliver the notification
   * may: a 2025-era session (its GET stream) or a 2026-07-28 client (`subscriptions/listen`). A
   * 2025-era stateless request has no stream to receive it on.
   */
  listChanged?: boolean;
}

/**
 * Builds the low-level SDK `Server` of one instance. Its handlers read the live definitions at call time,
 * so a server built before a change serves the change. The SDK requires a fresh server per
 * stateless request and per session; everything expensive (validators, listings) is shared.
 *
 * Besides `tools/list` (paginated, opaque cursors) and `tools/call`, the SDK answers `ping` and,
 * since the `logging` capability is declared, `logging/setLevel` (2025 era; with
 * {@link InstanceServerDeps.sessionLogLevel} this server answers it and the session store keeps
 * the level); tool log messages (executors' `context.log`) are filtered by the session's level,
 * or by a 2026-07-28 request's `logLevel`.
 */
export function createInstanceServerFactory(deps: InstanceServerDeps): (instanceId: string, options?: InstanceServerOptions) => Server {
  // One validator for every server: the SDK would otherwise build a fresh Ajv per `new Server()`.
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const callTool = deps.callTool ?? withSearchTools(createToolCaller(deps));
  const pageSize = deps.toolsPageSize ?? DEFAULT_TOOLS_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new RangeError('toolsPageSize must be a positive integer');

  return (instanceId, options = {}) => {
    const server = new Server(
      { name: `${deps.serverInfo.name}/${instanceId}`, version: deps.serverInfo.version },
      {
        capabilities: { tools: options.listChanged === false ? {} : { listChanged: true }, logging: {} },
        jsonSchemaValidator,
        // Coalesces a burst of changes into one notification per session (2025-era GET streams).
        debouncedNotificationMethods: ['notifications/tools/list_changed'],
      },
    );

    // The session store records the level (for every replica); the SDK keeping one of its own,
    // only on the replica that took the request, would filter differently from the others.
    if (deps.sessionLogLevel !== undefined) server.setRequestHandler('logging/setLevel', async () => ({}));

    server.setRequestHandler('tools/list', async (request) => {
      const found = deps.definitions.instance(instanceId);
      const view = found === undefined ? undefined : servedView(found);
      // Listings are validated definitions whose input schema always has `type: "object"`.
      const page = pageOfTools(view?.listings ?? [], request.params?.cursor, pageSize, deps.definitions.revision);
      return { tools: page.tools as Tool[], ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
    });

    server.setRequestHandler('tools/call', async (request, ctx) => {
      const { name } = request.params;
      // Read at call time, as tools/list does: a server built before a change serves the change.
      const view = deps.definitions.instance(instanceId);
      const tool = view === undefined ? undefined : servedView(view).toolsByName.get(name);
      if (tool === undefined) {
        deps.metrics?.rejected('unknown_tool');
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
      }
      const progressToken = ctx.mcpReq._meta?.progressToken;
      const tag = callTagOf(ctx.http?.authInfo);
      const context: ToolCallRequestContext = {
        cancellation: Cancellation.of(ctx.mcpReq.signal),
        requestId: ctx.http?.req?.headers.get('x-request-id') ?? undefined,
        // Notifications go out on this request's own stream (MCP basic/utilities/progress, logging).
        progress:
          progressToken === undefined
            ? undefined
            : (progress, total, message) => {
                void ctx.mcpReq
                  .notify({ method: 'notifications/progress', params: { progressToken, progress, total, message } })
                  .catch(() => undefined);
              },
        log: (level, data, logger) => {
          const sessionId = ctx.sessionId ?? ctx.http?.req?.headers.get('mcp-session-id') ?? undefined;
          const floor = sessionId === undefined ? undefined : deps.sessionLogLevel?.(sessionId);
          if (floor !== undefined && belowLevel(level, floor)) return;
          void ctx.mcpReq.log(level, data, logger).catch(() => undefined);
        },
        caller: tag?.owner,
        lease: tag?.lease,
        principal: tag?.principal,
      };
      const result = await callTool(instanceId, tool, (request.params.arguments ?? {}) as Record<string, unknown>, context);
      return result as CallToolResult;
    });

    return server;
  };
}
