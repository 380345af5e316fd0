import type { ConfigRegistry } from '@dynmcp/common';
import type { Logger, ToolExecutor, ToolResult } from '@dynmcp/plugin';
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type Tool } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';

/** What every per-instance MCP server needs; built once by the gateway and shared. */
export interface InstanceServerDeps {
  registry: ConfigRegistry;
  /** Finds the executor of a tool kind (`http` when a tool names none). */
  executorFor(kind: string): ToolExecutor | undefined;
  logger: Logger;
  serverInfo: { name: string; version: string };
}

/**
 * Builds the low-level SDK `Server` of one instance. Its handlers read the registry at call time,
 * so a server built before a change serves the change. The SDK requires a fresh server per
 * stateless request and per session; everything expensive (validators, listings) is shared.
 */
export function createInstanceServerFactory(deps: InstanceServerDeps): (instanceId: string) => Server {
  // One validator for every server: the SDK would otherwise build a fresh Ajv per `new Server()`.
  const jsonSchemaValidator = new AjvJsonSchemaValidator();
  const logger = deps.logger.child({ component: 'mcp' });

  return (instanceId) => {
    const server = new Server(
      { name: `${deps.serverInfo.name}/${instanceId}`, version: deps.serverInfo.version },
      {
        capabilities: { tools: { listChanged: true } },
        jsonSchemaValidator,
        // Coalesces a burst of changes into one notification per session (2025-era GET streams).
        debouncedNotificationMethods: ['notifications/tools/list_changed'],
      },
    );

    server.setRequestHandler('tools/list', async () => {
      const view = deps.registry.instance(instanceId);
      // Listings are validated definitions whose input schema always has `type: "object"`.
      return { tools: (view?.listings ?? []) as Tool[] };
    });

    server.setRequestHandler('tools/call', async (request, ctx) => {
      const { name } = request.params;
      const tool = deps.registry.instance(instanceId)?.toolsByName.get(name);
      if (tool === undefined) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
      }
      const args = (request.params.arguments ?? {}) as Record<string, unknown>;
      const problem = tool.validateArguments(args);
      const started = performance.now();
      const requestId = ctx.http?.req?.headers.get('x-request-id') ?? undefined;
      const callLog = { requestId, instanceId, tool: name, toolId: tool.definition.id };
      if (problem !== undefined) {
        logger.info('tool call', { ...callLog, outcome: 'invalid_arguments', latencyMs: 0 });
        return errorResult(`Invalid arguments for tool "${name}": ${problem}`);
      }
      const kind = tool.definition.kind ?? 'http';
      const executor = deps.executorFor(kind);
      if (executor === undefined) {
        logger.error('no executor for tool kind', { ...callLog, kind });
        return errorResult(`Tool "${name}" has kind "${kind}", which this gateway has no executor for`);
      }
      const progressToken = ctx.mcpReq._meta?.progressToken;
      let progressSent = -Infinity;
      const progress = (value: number, total?: number, message?: string) => {
        // Progress must increase; drop stale or duplicate reports instead of breaking the stream.
        if (progressToken === undefined || value <= progressSent) return;
        progressSent = value;
        void ctx.mcpReq
          .notify({ method: 'notifications/progress', params: { progressToken, progress: value, total, message } })
          .catch(() => undefined);
      };
      try {
        const outcome = await executor.execute(tool.definition, args, {
          signal: ctx.mcpReq.signal,
          logger: logger.child(callLog),
          progress,
        });
        const result = checkOutput(outcome.result, tool.definition.output_schema !== undefined, name);
        logger.info('tool call', {
          ...callLog,
          outcome: result.isError ? 'error' : 'ok',
          upstreamStatus: outcome.upstreamStatus,
          latencyMs: Math.round((performance.now() - started) * 10) / 10,
        });
        return result as CallToolResult;
      } catch (error) {
        logger.error('tool executor failed', { ...callLog, error: (error as Error).message });
        return errorResult(`Tool "${name}" failed inside the gateway; see the gateway log`);
      }
    });

    return server;
  };
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * A tool that declares an output schema must return structured content (MCP 2025-06-18 tools §
 * structured content; the SDK clients reject a success result without it).
 */
function checkOutput(result: ToolResult, hasOutputSchema: boolean, name: string): ToolResult {
  if (!hasOutputSchema || result.isError || result.structuredContent !== undefined) return result;
  return {
    content: [
      ...result.content,
      { type: 'text', text: `Tool "${name}" declares an output_schema but the upstream answer is not a JSON object` },
    ],
    isError: true,
  };
}
