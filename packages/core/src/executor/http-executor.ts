import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError, isGatewayError } from '@dynmcp/plugin';
import type { ToolCallContext, ToolCallOutcome, ToolDefinition, ToolExecutor } from '@dynmcp/plugin';
import type { EnvSource } from './env-template.js';
import { createUpstreamEventHandler } from './event-stream.js';
import { compileHttpTool } from './http-tool-config.js';
import type { CompiledHttpTool } from './http-tool-config.js';
import { buildHttpRequest } from './request-builder.js';
import type { BuiltRequest } from './request-builder.js';
import { createGotTransport } from './got-transport.js';
import { errorOutcome, mapEventStreamOutcome, mapUpstreamAnswer } from './response-mapper.js';
import {
  CONNECT_TIMEOUT_MS,
  MAX_REDIRECTS,
  REDIRECT_STATUSES,
  redirectTarget,
  TransportError,
  type Transport,
} from './transport.js';
import { createUndiciTransport } from './undici-transport.js';

export { MAX_REDIRECTS } from './transport.js';

/** The HTTP clients the executor can use; both honour the same limits. */
export const HTTP_CLIENTS = ['undici', 'got'] as const;
export type HttpClientName = (typeof HTTP_CLIENTS)[number];

/** Options of {@link createHttpExecutor}. */
export interface HttpExecutorOptions {
  /** Per-call timeout when the tool's `ext_info.timeout_ms` is absent. */
  defaultTimeoutMs: number;
  /** Response size cap, counted after decompression, when `ext_info.max_response_bytes` is absent. */
  maxResponseBytes: number;
  /**
   * Source of `${env:NAME}` references, read at every call. The composition root passes the
   * process environment; tests pass their own object.
   */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The HTTP client: `undici` (default; several times cheaper per call) or `got` (the design
   * card's client, kept selectable so the benchmark compares both end to end).
   */
  client?: HttpClientName;
}

/** The built-in executor of `http` tools. */
export interface HttpExecutor extends ToolExecutor {
  readonly kind: 'http';
  /** Checks an `http` tool definition; throws `GatewayError('INVALID_PAYLOAD')` saying what to fix. */
  validate(tool: ToolDefinition): void;
  /** Destroys the keep-alive connections; later calls answer with an error result. */
  close(): Promise<void>;
}

interface FailureContext {
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
  status: number | undefined;
}

/** Methods that may be sent again (RFC 9110 §9.2.2); POST and PATCH never are. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Answers that say "try again": the upstream or a proxy in front of it is briefly unavailable. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);
/** Pause before the first retry; it doubles for each further one. */
const RETRY_BASE_DELAY_MS = 100;

/** Waits `ms`; false when the call was cancelled meanwhile. */
async function pauseUnlessCancelled(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Maps a transport failure to a result. Only codes and limits are reported: client messages hold URLs. */
function failureOutcome(error: unknown, context: FailureContext): ToolCallOutcome {
  const { status } = context;
  if (context.signal.aborted) return errorOutcome('upstream request cancelled', status);
  const failure = error instanceof TransportError ? error.failure : { kind: 'failed' as const, code: 'UNKNOWN' };
  switch (failure.kind) {
    case 'too-large':
      return errorOutcome(`upstream response too large (over ${context.maxBytes} bytes)`, status);
    case 'timeout':
      return errorOutcome(`upstream timed out after ${context.timeoutMs} ms`, status);
    case 'connect-timeout':
      return errorOutcome(`upstream connection timed out after ${Math.min(context.timeoutMs, CONNECT_TIMEOUT_MS)} ms`, status);
    case 'too-many-redirects':
      return errorOutcome(`upstream redirected more than ${MAX_REDIRECTS} times`, status);
    case 'failed':
      return errorOutcome(`upstream request failed: ${failure.code}`, status);
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new GatewayError('INTERNAL_ERROR', `createHttpExecutor: ${name} must be a positive integer`);
  }
  return value;
}

/**
 * Creates the executor of the built-in `http` tool kind: it builds the upstream request from the
 * definition and the call's arguments (see {@link buildHttpRequest}), sends it over a transport
 * (undici or got) over keep-alive connections (no retries yet, per-tool timeout, same-origin
 * redirects only, response cap counted after decompression) and maps the answer with {@link mapUpstreamAnswer}.
 */
export function createHttpExecutor(options: HttpExecutorOptions): HttpExecutor {
  const defaultTimeoutMs = positiveInteger(options.defaultTimeoutMs, 'defaultTimeoutMs');
  const defaultMaxBytes = positiveInteger(options.maxResponseBytes, 'maxResponseBytes');
  // One transport per executor, so connections to an upstream are reused across calls and tools.
  const transport: Transport = options.client === 'got' ? createGotTransport() : createUndiciTransport();
  let closed = false;

  async function send(tool: CompiledHttpTool, request: BuiltRequest, context: ToolCallContext): Promise<ToolCallOutcome> {
    const timeoutMs = tool.timeoutMs ?? defaultTimeoutMs;
    const maxBytes = tool.maxResponseBytes ?? defaultMaxBytes;
    // The timeout bounds the whole call, retries included.
    const deadline = Date.now() + timeoutMs;
    const retries = IDEMPOTENT_METHODS.has(request.method) ? tool.retries : 0;
    for (let attempt = 0; ; attempt += 1) {
      let status: number | undefined;
      // Progress and log events of an upstream event stream go to the client as they arrive.
      const events = createUpstreamEventHandler(context);
      const pause = RETRY_BASE_DELAY_MS * 2 ** attempt;
      const mayRetry = () => attempt < retries && !context.signal.aborted && Date.now() + pause < deadline;
      try {
        const { answer, location, streamed } = await transport.fetch(request, {
          origin: tool.origin,
          timeoutMs: Math.max(1, deadline - Date.now()),
          maxBytes,
          signal: context.signal,
          onStatus: (value) => (status = value),
          onEvent: (event) => events.onEvent(event),
        });
        if (streamed !== true && RETRY_STATUSES.has(answer.status) && mayRetry()) {
          context.logger.debug('upstream answered a retryable status; retrying', { status: answer.status, attempt });
          if (await pauseUnlessCancelled(pause, context.signal)) continue;
        }
        const target = REDIRECT_STATUSES.has(answer.status) ? redirectTarget(location, answer.url) : undefined;
        if (target !== undefined && target.origin !== tool.origin) {
          return errorOutcome(`upstream redirected to another host (${target.host}); not followed`, answer.status);
        }
        const mapping = { hasOutputSchema: tool.hasOutputSchema, result: tool.result };
        if (streamed === true) return mapEventStreamOutcome(events.outcome(), answer, mapping);
        return mapUpstreamAnswer(answer, mapping);
      } catch (error) {
        const retryable = error instanceof TransportError && error.failure.kind === 'failed' && status === undefined;
        if (retryable && mayRetry()) {
          context.logger.debug('upstream connection failed; retrying', { attempt });
          if (await pauseUnlessCancelled(pause, context.signal)) continue;
        }
        return failureOutcome(error, { timeoutMs, maxBytes, signal: context.signal, status });
      }
    }
  }

  return {
    kind: 'http',
    validate(tool) {
      compileHttpTool(tool);
    },
    async execute(tool, args, context) {
      if (closed) return errorOutcome('the http executor is shut down');
      let compiled: CompiledHttpTool;
      try {
        compiled = compileHttpTool(tool);
      } catch (error) {
        // Definitions are validated on write; one that slipped through (older data) fails per call.
        if (isGatewayError(error)) return errorOutcome(`the tool definition is invalid: ${error.message}`);
        throw error;
      }
      const env: EnvSource = options.env;
      const build = buildHttpRequest(compiled, args ?? {}, env);
      if (!build.ok) {
        context.logger.debug('http tool call refused before sending', { tool: tool.name });
        return errorOutcome(build.message);
      }
      if (context.signal.aborted) return errorOutcome('upstream request cancelled');
      const started = Date.now();
      const outcome = await send(compiled, build.request, context);
      // Origin and path only: the query string carries arguments, the headers carry secrets.
      context.logger.debug('http tool call finished', {
        tool: tool.name,
        method: build.request.method,
        origin: compiled.origin,
        path: build.request.url.pathname,
        upstreamStatus: outcome.upstreamStatus,
        isError: outcome.result.isError === true,
        durationMs: Date.now() - started,
      });
      return outcome;
    },
    async close() {
      closed = true;
      await transport.close();
    },
  };
}
