import type { LiveTool } from '@dynmcp/common';
import type { Logger, ToolCallContext, ToolExecutor, ToolLogLevel, ToolResult } from '@dynmcp/plugin';
import type { CallLease } from './call-limits.js';
import { DEFAULT_MAX_RESULT_BYTES, resultOverCap } from './result-size.js';

/** What a `tools/call` needs from the MCP layer that received it. */
export interface ToolCallRequestContext {
  /** Aborted when the client cancels (or closes a 2026-07-28 response stream). */
  signal: AbortSignal;
  requestId: string | undefined;
  /** Sends `notifications/progress`; absent when the client sent no progress token. */
  progress?: (progress: number, total?: number, message?: string) => void;
  /** Sends `notifications/message`, level-filtered; absent when the call may not log to the client. */
  log?: (level: ToolLogLevel, data: unknown, logger?: string) => void;
  /** Who called (`ownerKey`), for the call's log line. */
  caller?: string;
  /** The concurrency units the request was admitted with; the call holds one while it runs. */
  lease?: CallLease;
}

/**
 * Runs one `tools/call` of `tool`, served by instance `instanceId`. The route that received the
 * request found the tool in the instance's view (an unknown name is that route's protocol error),
 * so the call never looks the definitions up again.
 */
export type ToolCaller = (
  instanceId: string,
  tool: LiveTool,
  args: Record<string, unknown>,
  context: ToolCallRequestContext,
) => Promise<ToolResult>;

/** What {@link createToolCaller} needs. */
export interface ToolCallerDeps {
  /** Finds the executor of a tool kind (`http` when a tool names none). */
  executorFor(kind: string): ToolExecutor | undefined;
  logger: Logger;
  /** Largest result as sent, JSON-encoded (`mcp.maxResultBytes`); default {@link DEFAULT_MAX_RESULT_BYTES}. */
  maxResultBytes?: number;
}

/** A tool result with `isError: true` and one text block. */
export function errorResult(text: string): ToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * Creates the one function every MCP leg runs a tool call with: argument validation (an invalid
 * call is an `isError` result, MCP 2025-11-25 SEP-1303), the tool kind's executor with the
 * client's cancellation signal, progress and log channels, the output schema check, the cap on the
 * result's size as sent, and the call log line. While it runs, the call holds one unit of its
 * request's concurrency lease. Failures the model should read are results.
 */
export function createToolCaller(deps: ToolCallerDeps): ToolCaller {
  const logger = deps.logger.child({ component: 'mcp' });
  const maxResultBytes = deps.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
  return async (instanceId, tool, args, request) => {
    if (request.lease === undefined) return run(tool, instanceId, args, request);
    const release = request.lease.claim(tool.definition.id);
    try {
      return await run(tool, instanceId, args, request);
    } finally {
      release();
    }
  };

  async function run(tool: LiveTool, instanceId: string, args: Record<string, unknown>, request: ToolCallRequestContext) {
    const started = performance.now();
    const name = tool.definition.name;
    const callLog = { requestId: request.requestId, caller: request.caller, instanceId, tool: name, toolId: tool.definition.id };
    const problem = tool.validateArguments(args);
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
    const context: ToolCallContext = {
      signal: request.signal,
      logger: logger.child(callLog),
      progress: monotonic(request.progress),
      log: request.log ?? (() => undefined),
    };
    try {
      const outcome = await executor.execute(tool.definition, args, context);
      let result = checkOutput(outcome.result, tool, name);
      let outcomeName = request.signal.aborted ? 'cancelled' : result.isError ? 'error' : 'ok';
      const tooLarge = resultOverCap(result, maxResultBytes);
      if (tooLarge !== undefined) {
        outcomeName = 'result_too_large';
        result = errorResult(tooLargeMessage(name, tooLarge.bytes, tooLarge.exact, maxResultBytes));
      }
      logger.info('tool call', {
        ...callLog,
        outcome: outcomeName,
        upstreamStatus: outcome.upstreamStatus,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      });
      return result;
    } catch (error) {
      logger.error('tool executor failed', { ...callLog, error: (error as Error).message });
      return errorResult(`Tool "${name}" failed inside the gateway; see the gateway log`);
    }
  }
}

function tooLargeMessage(name: string, bytes: number, exact: boolean, cap: number): string {
  const size = !Number.isFinite(bytes) ? 'an answer that cannot be encoded as JSON' : `${exact ? '' : 'at least '}${bytes} bytes`;
  return (
    `Tool "${name}" produced ${size} as sent, more than this gateway's limit of ${cap} bytes ` +
    '(mcp.maxResultBytes); the result was dropped. Ask for less, e.g. with a filter or a smaller page.'
  );
}

/** Progress must increase (MCP basic/utilities/progress); stale or repeated reports are dropped. */
function monotonic(send: ToolCallRequestContext['progress']): ToolCallContext['progress'] {
  if (send === undefined) return () => undefined;
  let last = -Infinity;
  return (progress, total, message) => {
    if (!(progress > last)) return;
    last = progress;
    send(progress, total, message);
  };
}

/**
 * A tool that declares an output schema must return structured content that conforms to it (MCP
 * 2025-06-18 server/tools § structured content; the SDK clients reject a success result without
 * it). Anything else becomes an `isError` result that says why, keeping the upstream's content.
 */
function checkOutput(result: ToolResult, tool: LiveTool, name: string): ToolResult {
  const validate = tool.validateOutput;
  if (validate === undefined || result.isError) return result;
  if (result.structuredContent === undefined) {
    return withError(result, `Tool "${name}" declares an output_schema but the upstream answer is not a JSON object`);
  }
  const problem = validate(result.structuredContent);
  if (problem === undefined) return result;
  return withError(result, `Tool "${name}": the upstream answer does not match the tool's output_schema: ${problem}`);
}

function withError(result: ToolResult, text: string): ToolResult {
  // An error result carries no structuredContent: it would claim a conforming answer.
  return { content: [...result.content, { type: 'text', text }], isError: true };
}
