import { mergeArguments, type ServedTool } from '@dynmcp/common';
import type { Logger, Principal, ToolCallContext, ToolExecutor, ToolLogLevel, ToolResult } from '@dynmcp/plugin';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { startChildSpan, withSpan, type Tracer } from '../call-tracing.js';
import type { ObservedCallContext, UpstreamObserver } from '../executor/dry-run.js';
import type { Cancellation } from '../cancellation.js';
import type { CallLease } from './call-limits.js';
import { NO_CALL_METRICS, type CallMetrics, type CallOutcome, type ToolCallMetrics } from './call-metrics.js';
import { DEFAULT_MAX_RESULT_BYTES, resultOverCap } from './result-size.js';

/** What a `tools/call` needs from the MCP layer that received it. */
export interface ToolCallRequestContext {
  /** Aborted when the client cancels (or closes a 2026-07-28 response stream). */
  cancellation: Cancellation;
  requestId: string | undefined;
  /** Sends `notifications/progress`; absent when the client sent no progress token. */
  progress?: (progress: number, total?: number, message?: string) => void;
  /** Sends `notifications/message`, level-filtered; absent when the call may not log to the client. */
  log?: (level: ToolLogLevel, data: unknown, logger?: string) => void;
  /** Who called (`ownerKey`), for the call's log line. */
  caller?: string;
  /** The concurrency units the request was admitted with; the call holds one while it runs. */
  lease?: CallLease;
  /** The authenticated principal, handed to the executor as `ToolCallContext.caller` (by reference). */
  principal?: Principal | undefined;
  /** Hears the final upstream answer (executors that support it: http); only the admin API's test calls pass one. */
  observeUpstream?: UpstreamObserver;
}

/**
 * Runs one `tools/call` of `tool`, served by instance `instanceId`. The route that received the
 * request found the tool in the instance's view (an unknown name is that route's protocol error),
 * so the call never looks the definitions up again.
 */
export type ToolCaller = (
  instanceId: string,
  tool: ServedTool,
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
  /** Where calls are counted; default {@link NO_CALL_METRICS}. */
  metrics?: CallMetrics;
  /** Traces each call as a span under the request's (`tools/call <name>`); default none. */
  tracer?: Tracer;
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
  const metrics = deps.metrics ?? NO_CALL_METRICS;
  // The instruments of each tool, per instance serving it, resolved once: a definitions change
  // replaces the ServedTool, and with it this entry, so a call costs two lookups and no label work.
  const instruments = new WeakMap<ServedTool, Map<string, ToolCallMetrics>>();
  function instrumentsOf(tool: ServedTool, instanceId: string): ToolCallMetrics {
    let byInstance = instruments.get(tool);
    if (byInstance === undefined) instruments.set(tool, (byInstance = new Map()));
    let found = byInstance.get(instanceId);
    if (found === undefined) byInstance.set(instanceId, (found = metrics.tool(instanceId, tool)));
    return found;
  }
  const lazyFields = lazyContextFields(logger);
  /** The context the executor of one call gets; see {@link lazyContextFields} for `signal` and `logger`. */
  function callContext(callLog: Record<string, unknown>, request: ToolCallRequestContext): ObservedCallContext {
    const context: Omit<ObservedCallContext, 'signal' | 'logger'> & LazyContextState = {
      cancellation: request.cancellation,
      progress: monotonic(request.progress),
      log: request.log ?? ignore,
      caller: request.principal,
      observeUpstream: request.observeUpstream,
      [LOG_BINDINGS]: callLog,
      [CALL_LOGGER]: undefined,
    };
    return Object.defineProperties(context, lazyFields) as unknown as ObservedCallContext;
  }
  // Not async itself: a call without a lease is `run`'s own promise, one layer fewer per call.
  return (instanceId, tool, args, request) =>
    request.lease === undefined ? run(tool, instanceId, args, request) : runLeased(request.lease, tool, instanceId, args, request);

  async function runLeased(lease: CallLease, tool: ServedTool, instanceId: string, args: Record<string, unknown>, request: ToolCallRequestContext) {
    const release = lease.claim(tool.definition.id);
    try {
      return await run(tool, instanceId, args, request);
    } finally {
      release();
    }
  }

  async function run(tool: ServedTool, instanceId: string, args: Record<string, unknown>, request: ToolCallRequestContext) {
    const started = performance.now();
    const name = tool.name;
    const callLog = { requestId: request.requestId, caller: request.caller, instanceId, tool: name, toolId: tool.definition.id };
    const measured = instrumentsOf(tool, instanceId);
    const span = deps.tracer === undefined ? undefined : startCallSpan(deps.tracer, instanceId, tool);
    let problem = tool.validateArguments(args);
    if (problem === undefined && tool.fixedArguments !== undefined) {
      // The instance pins or hides arguments (see docs/curation.md): the call was checked against
      // the schema its client was shown; what is sent is the call with the pinned values, checked
      // against the tool's own schema.
      args = mergeArguments(args, tool.fixedArguments);
      problem = tool.tool.validateArguments(args);
    }
    span?.addEvent('arguments validated', { 'dynmcp.arguments.valid': problem === undefined });
    if (problem !== undefined) {
      metrics.rejected('validation');
      measured.called('invalid_arguments', (performance.now() - started) / 1000, undefined);
      endCallSpan(span, 'invalid_arguments', undefined);
      logger.info('tool call', { ...callLog, outcome: 'invalid_arguments', latencyMs: 0 });
      return errorResult(`Invalid arguments for tool "${name}": ${problem}`);
    }
    const kind = tool.definition.kind ?? 'http';
    const executor = deps.executorFor(kind);
    if (executor === undefined) {
      measured.called('no_executor', (performance.now() - started) / 1000, undefined);
      endCallSpan(span, 'no_executor', undefined);
      logger.error('no executor for tool kind', { ...callLog, kind });
      return errorResult(`Tool "${name}" has kind "${kind}", which this gateway has no executor for`);
    }
    const { cancellation } = request;
    const context = callContext(callLog, request);
    try {
      // Under the call's span, an executor's own spans (the http executor's upstream request) are its children.
      const outcome = await (span === undefined
        ? executor.execute(tool.definition, args, context)
        : withSpan(span, () => executor.execute(tool.definition, args, context)));
      let result = checkOutput(outcome.result, tool, name);
      let outcomeName: CallOutcome = cancellation.aborted ? 'cancelled' : result.isError ? 'error' : 'ok';
      const tooLarge = resultOverCap(result, maxResultBytes);
      if (tooLarge !== undefined) {
        outcomeName = 'result_too_large';
        result = errorResult(tooLargeMessage(name, tooLarge.bytes, tooLarge.exact, maxResultBytes));
      }
      const elapsedMs = performance.now() - started;
      measured.called(outcomeName, elapsedMs / 1000, outcome.upstreamStatus);
      endCallSpan(span, outcomeName, outcome.upstreamStatus);
      // Spelt out rather than `{ ...callLog, … }`: on Node 20 a spread followed by more keys costs
      // microseconds per call, and this object is built even when the info level is off.
      logger.info('tool call', {
        requestId: callLog.requestId,
        caller: callLog.caller,
        instanceId,
        tool: name,
        toolId: callLog.toolId,
        outcome: outcomeName,
        upstreamStatus: outcome.upstreamStatus,
        latencyMs: Math.round(elapsedMs * 10) / 10,
      });
      return result;
    } catch (error) {
      measured.called('failed', (performance.now() - started) / 1000, undefined);
      endCallSpan(span, 'failed', undefined);
      logger.error('tool executor failed', { ...callLog, error: (error as Error).message });
      return errorResult(`Tool "${name}" failed inside the gateway; see the gateway log`);
    }
  }
}

/** The span of one call, under the active one (the MCP request's). Names and ids come from the definition, never from the caller. */
function startCallSpan(tracer: Tracer, instanceId: string, tool: ServedTool): Span {
  const { name } = tool;
  const { id } = tool.definition;
  return startChildSpan(tracer, `tools/call ${name}`, {
    kind: SpanKind.INTERNAL,
    attributes: { 'dynmcp.instance.id': instanceId, 'gen_ai.tool.name': name, 'dynmcp.tool.id': id },
  });
}

/** Ends a call's span with its outcome; a call that failed inside the gateway is an error span. */
function endCallSpan(span: Span | undefined, outcome: CallOutcome, upstreamStatus: number | undefined): void {
  if (span === undefined) return;
  span.setAttribute('dynmcp.tool.outcome', outcome);
  if (upstreamStatus !== undefined) span.setAttribute('dynmcp.upstream.status_code', upstreamStatus);
  if (outcome === 'failed' || outcome === 'no_executor') span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

function tooLargeMessage(name: string, bytes: number, exact: boolean, cap: number): string {
  const size = !Number.isFinite(bytes) ? 'an answer that cannot be encoded as JSON' : `${exact ? '' : 'at least '}${bytes} bytes`;
  return (
    `Tool "${name}" produced ${size} as sent, more than this gateway's limit of ${cap} bytes ` +
    '(mcp.maxResultBytes); the result was dropped. Ask for less, e.g. with a filter or a smaller page.'
  );
}

const LOG_BINDINGS = Symbol('call log bindings');
const CALL_LOGGER = Symbol('call logger');

/** What the shared getters of a call context read. */
interface LazyContextState {
  cancellation: Cancellation;
  [LOG_BINDINGS]: Record<string, unknown>;
  [CALL_LOGGER]: Logger | undefined;
}

/**
 * `signal` and `logger` of every call context: own, enumerable getters (so a plugin that copies the
 * context with `{ ...context }` still gets both), each made on first use. The built-in executor
 * listens through `cancellation` and asks for the logger only for its debug lines.
 *
 * The getter functions are made once per tool caller and read the call from `this`. Getters
 * written in a per-call object literal are new closures every call, and V8 keeps each such object
 * in dictionary mode with a fresh accessor pair allocated in the old generation. Until the next
 * full collection that pair holds the getters' closures, and through them the call's objects,
 * alive across young-generation collections: a busy gateway promoted about a kilobyte per call
 * into the old generation and paid for a full collection every two seconds or so.
 */
function lazyContextFields(logger: Logger): PropertyDescriptorMap {
  return {
    signal: {
      enumerable: true,
      configurable: true,
      get(this: LazyContextState): AbortSignal {
        return this.cancellation.signal;
      },
    },
    logger: {
      enumerable: true,
      configurable: true,
      get(this: LazyContextState): Logger {
        return (this[CALL_LOGGER] ??= logger.child(this[LOG_BINDINGS]));
      },
    },
  };
}

/** The channel of a call whose client asked for no progress or log messages: shared, not made per call. */
const ignore = () => undefined;

/** Progress must increase (MCP basic/utilities/progress); stale or repeated reports are dropped. */
function monotonic(send: ToolCallRequestContext['progress']): ToolCallContext['progress'] {
  if (send === undefined) return ignore;
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
function checkOutput(result: ToolResult, tool: ServedTool, name: string): ToolResult {
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
