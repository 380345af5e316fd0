import http from 'node:http';
import https from 'node:https';
import { GatewayError, isGatewayError } from '@dynmcp/plugin';
import type { ToolCallContext, ToolCallOutcome, ToolDefinition, ToolExecutor } from '@dynmcp/plugin';
import got, { MaxRedirectsError, RequestError, TimeoutError } from 'got';
import type { PlainResponse } from 'got';
import type { EnvSource } from './env-template.js';
import { compileHttpTool } from './http-tool-config.js';
import type { CompiledHttpTool } from './http-tool-config.js';
import { buildHttpRequest } from './request-builder.js';
import type { BuiltRequest } from './request-builder.js';
import { errorOutcome, mapUpstreamAnswer } from './response-mapper.js';
import type { UpstreamAnswer } from './response-mapper.js';

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
}

/** The built-in executor of `http` tools. */
export interface HttpExecutor extends ToolExecutor {
  readonly kind: 'http';
  /** Checks an `http` tool definition; throws `GatewayError('INVALID_PAYLOAD')` saying what to fix. */
  validate(tool: ToolDefinition): void;
  /** Destroys the keep-alive connections; later calls answer with an error result. */
  close(): Promise<void>;
}

/** How many same-origin redirects a call follows before giving up. */
export const MAX_REDIRECTS = 5;
// Connecting should never need long; the total budget still bounds it when the call timeout is lower.
const CONNECT_TIMEOUT_MS = 10_000;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([300, 301, 302, 303, 307, 308]);
// got ends a bodiless stream request by itself only for these; the others wait for a piped body.
const SELF_ENDING_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Thrown inside {@link fetchBounded} when the decoded body passes the cap. */
class ResponseTooLargeError extends Error {}

interface FetchLimits {
  origin: string;
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
  agents: { http: http.Agent; https: https.Agent };
  /** Called once the final answer's status is known, so failures while reading the body can report it. */
  onStatus(status: number): void;
}

interface Fetched {
  answer: UpstreamAnswer;
  location: string | undefined;
}

/** The URL `location` points to, resolved against `base`; `undefined` when absent or unparsable. */
function redirectTarget(location: string | undefined, base: string): URL | undefined {
  if (location === undefined) return undefined;
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

/**
 * Sends `request` and reads the decoded body, destroying the request as soon as the body passes
 * `maxBytes`: memory stays under the cap plus one chunk, whatever the upstream sends (a gzip bomb is
 * counted after inflation, since got decompresses before the stream hands data out). Same-origin
 * redirects are followed; any other is returned as the 3xx answer it is.
 */
function fetchBounded(request: BuiltRequest, limits: FetchLimits): Promise<Fetched> {
  const { method, body } = request;
  return new Promise((resolve, reject) => {
    const stream = got.stream(request.url, {
      method,
      headers: request.headers,
      // An empty body ends bodiless DELETE/PATCH/OPTIONS/POST/PUT requests (sent with content-length 0).
      body: body ?? (SELF_ENDING_METHODS.has(method) ? undefined : ''),
      allowGetBody: method === 'GET' && body !== undefined,
      agent: limits.agents,
      retry: { limit: 0 },
      throwHttpErrors: false,
      decompress: true,
      followRedirect: (response: PlainResponse) =>
        redirectTarget(response.headers.location, response.url)?.origin === limits.origin,
      maxRedirects: MAX_REDIRECTS,
      timeout: { request: limits.timeoutMs, connect: Math.min(limits.timeoutMs, CONNECT_TIMEOUT_MS) },
      signal: limits.signal,
    });
    let response: PlainResponse | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.once('response', (answer: PlainResponse) => {
      response = answer;
      limits.onStatus(answer.statusCode);
    });
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        reject(new ResponseTooLargeError());
        stream.destroy();
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', reject);
    stream.once('end', () => {
      if (response === undefined) {
        reject(new Error('upstream stream ended without a response'));
        return;
      }
      const contentType = response.headers['content-type'];
      const location = response.headers.location;
      resolve({
        answer: {
          status: response.statusCode,
          statusText: response.statusMessage ?? '',
          contentType,
          body: Buffer.concat(chunks, size),
          url: response.url,
        },
        location,
      });
    });
    // A stream destroyed without an error emits neither 'end' nor 'error'; settle anyway (no-op otherwise).
    stream.once('close', () => reject(Object.assign(new Error('upstream stream closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })));
  });
}

interface FailureContext {
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
  status: number | undefined;
}

/** Maps a transport failure to a result. Only codes and limits are reported: got's messages hold URLs. */
function failureOutcome(error: unknown, context: FailureContext): ToolCallOutcome {
  const { status } = context;
  if (error instanceof ResponseTooLargeError) {
    return errorOutcome(`upstream response too large (over ${context.maxBytes} bytes)`, status);
  }
  if (context.signal.aborted) return errorOutcome('upstream request cancelled', status);
  if (error instanceof TimeoutError) {
    const message =
      error.event === 'request'
        ? `upstream timed out after ${context.timeoutMs} ms`
        : `upstream connection timed out after ${Math.min(context.timeoutMs, CONNECT_TIMEOUT_MS)} ms`;
    return errorOutcome(message, status);
  }
  if (error instanceof MaxRedirectsError) return errorOutcome(`upstream redirected more than ${MAX_REDIRECTS} times`, status);
  const code = error instanceof RequestError || (error instanceof Error && 'code' in error) ? (error as { code?: unknown }).code : undefined;
  return errorOutcome(`upstream request failed: ${typeof code === 'string' ? code : 'UNKNOWN'}`, status);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new GatewayError('INTERNAL_ERROR', `createHttpExecutor: ${name} must be a positive integer`);
  }
  return value;
}

/**
 * Creates the executor of the built-in `http` tool kind: it builds the upstream request from the
 * definition and the call's arguments (see {@link buildHttpRequest}), sends it with got over
 * keep-alive agents (no retries yet, per-tool timeout, same-origin redirects only, response cap
 * counted after decompression) and maps the answer with {@link mapUpstreamAnswer}.
 */
export function createHttpExecutor(options: HttpExecutorOptions): HttpExecutor {
  const defaultTimeoutMs = positiveInteger(options.defaultTimeoutMs, 'defaultTimeoutMs');
  const defaultMaxBytes = positiveInteger(options.maxResponseBytes, 'maxResponseBytes');
  // One pair per executor, so connections to an upstream are reused across calls and tools.
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  let closed = false;

  async function send(tool: CompiledHttpTool, request: BuiltRequest, context: ToolCallContext): Promise<ToolCallOutcome> {
    const timeoutMs = tool.timeoutMs ?? defaultTimeoutMs;
    const maxBytes = tool.maxResponseBytes ?? defaultMaxBytes;
    let status: number | undefined;
    try {
      const { answer, location } = await fetchBounded(request, {
        origin: tool.origin,
        timeoutMs,
        maxBytes,
        signal: context.signal,
        agents,
        onStatus: (value) => (status = value),
      });
      const target = REDIRECT_STATUSES.has(answer.status) ? redirectTarget(location, answer.url) : undefined;
      if (target !== undefined && target.origin !== tool.origin) {
        return errorOutcome(`upstream redirected to another host (${target.host}); not followed`, answer.status);
      }
      return mapUpstreamAnswer(answer, { hasOutputSchema: tool.hasOutputSchema });
    } catch (error) {
      return failureOutcome(error, { timeoutMs, maxBytes, signal: context.signal, status });
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
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
