import type { Principal } from './auth.js';
import type { Logger } from './logger.js';
import type { ToolDefinition } from './model.js';

/** One content block of a tool result (MCP `ContentBlock`). */
export type ToolContent =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'audio'; data: string; mimeType: string }
  | { type: 'resource'; resource: { uri: string; mimeType?: string; text?: string; blob?: string } };

/** The result of a tool call, as MCP's `CallToolResult`. */
export interface ToolResult {
  content: ToolContent[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** MCP log levels (the syslog severities of RFC 5424), least severe first. */
export const TOOL_LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
/** One of {@link TOOL_LOG_LEVELS}. */
export type ToolLogLevel = (typeof TOOL_LOG_LEVELS)[number];

/**
 * A call's cancellation without an `AbortSignal`: the same event as {@link ToolCallContext.signal}.
 * On Node 20 an `AbortSignal` and its event listeners cost microseconds per call, a noticeable share
 * of a fast upstream call; an executor on the hot path reads this instead.
 */
export interface CallCancellation {
  /** True once the call was cancelled. */
  readonly aborted: boolean;
  /** Runs `listener` once when the call is cancelled (at once if it already was); returns its removal. */
  onAbort(listener: () => void): () => void;
}

/** Per-call context an executor receives. */
export interface ToolCallContext {
  /** Aborted when the client cancels or the gateway shuts down. Made on first use. */
  signal: AbortSignal;
  /** The same cancellation as `signal`, cheaper (since API 6; absent on older gateways). */
  cancellation?: CallCancellation;
  /** The gateway's own log (operators read it); never sent to the client. */
  logger: Logger;
  /**
   * Who is calling: the principal an auth provider accepted, or undefined for an anonymous caller
   * of a public instance. Per-caller templates (`${claim:}`, `${principal:}`) resolve against it.
   */
  caller?: Principal;
  /**
   * Report progress (MCP `notifications/progress`); a no-op when the client asked for none.
   * Values must increase; stale or repeated values are dropped.
   */
  progress(progress: number, total?: number, message?: string): void;
  /**
   * Send a log message to the client (MCP `notifications/message`) on this call's stream. The
   * gateway drops it when the client's level (`logging/setLevel`, or a 2026-07-28 request's
   * `logLevel`) is above `level`, or when the client asked for no log messages.
   */
  log(level: ToolLogLevel, data: unknown, logger?: string): void;
}

/** What an executor reports back besides the result, for the call log line. */
export interface ToolCallOutcome {
  result: ToolResult;
  /** Upstream HTTP status, when there was an upstream answer. */
  upstreamStatus?: number;
}

/**
 * A tool kind. The built-in `http` kind calls REST APIs; a plugin can add another (GraphQL, gRPC…),
 * selected per tool by its `kind` field.
 */
export interface ToolExecutor {
  /** The `kind` value that selects this executor. */
  readonly kind: string;
  /**
   * Checks a definition of this kind at admin-write time; throw `GatewayError('INVALID_PAYLOAD')`
   * to refuse it. Optional.
   */
  validate?(tool: ToolDefinition): void;
  /** Runs one call. Failures the model should read are results with `isError: true`. */
  execute(tool: ToolDefinition, args: Record<string, unknown>, context: ToolCallContext): Promise<ToolCallOutcome>;
  close?(): Promise<void>;
}
