import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { GatewayError, isGatewayError } from '@dynmcp/plugin';
import type { CallCancellation, Principal, ToolCallContext, ToolCallOutcome, ToolDefinition } from '@dynmcp/plugin';
import { cancellationOf } from '../cancellation.js';
import { previewRequest, type ObservedCallContext, type PreparedCall, type PreparingExecutor } from './dry-run.js';
import { traceUpstream, type Tracer } from './upstream-span.js';
import { createEgressLookup, type HostResolver } from './egress-lookup.js';
import { createEgressPolicy, egressRemedy, type EgressDenial } from './egress-policy.js';
import { createUpstreamEventHandler } from './event-stream.js';
import { compileHttpTool } from './http-tool-config.js';
import type { CompiledHttpTool } from './http-tool-config.js';
import { buildHttpRequest } from './request-builder.js';
import type { BuiltRequest } from './request-builder.js';
import { hasHiddenDotSegment } from './path-template.js';
import { errorOutcome, mapEventStreamOutcome, mapUpstreamAnswer } from './response-mapper.js';
import { redactAnswer, redactEventOutcome } from './query-secrets.js';
import { DEFAULT_SECRETS_DIR } from './secret-files.js';
import { createTemplateValues, type PrincipalCredentials } from './template-values.js';
import {
  CONNECT_TIMEOUT_MS,
  loadedOnFirstUse,
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
  /**
   * Response size cap, counted after decompression: the default of `ext_info.max_response_bytes`
   * and its ceiling (a definition asking for more is refused).
   */
  maxResponseBytes: number;
  /**
   * Source of `${env:NAME}` references, read at every call. The composition root passes the
   * process environment; tests pass their own object.
   */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Variables `${env:NAME}` may read: exact names, `PREFIX*`, or `*`. `DYNMCP_*` names never.
   * Default: none.
   */
  toolEnvAllow?: readonly string[];
  /** Directory of `${secret:NAME}` files; default `/run/secrets`. */
  secretsDir?: string;
  /** The gateway's own credentials: a variable or secret holding one is never sent upstream. */
  protectedValues?: readonly string[];
  /** Claims of the caller's token `${claim:NAME}` may send (`executor.toolClaimsAllow`); default none. */
  toolClaimsAllow?: readonly string[];
  /** The per-principal credentials `${principal:NAME}` reads; none: every such reference is a tool error. */
  credentials?: PrincipalCredentials;
  /**
   * Egress policy (see egress-policy.ts); without it only the built-in denials apply, so loopback
   * and private upstreams are refused. `resolve` replaces DNS, for tests; `onDenied` hears of every
   * call the policy stopped (the gateway counts them).
   */
  egress?: { allow?: readonly string[]; deny?: readonly string[]; resolve?: HostResolver; onDenied?: () => void };
  /**
   * The HTTP client: `undici` (default; several times cheaper per call) or `got` (kept
   * selectable so the benchmark compares both end to end).
   */
  client?: HttpClientName;
  /**
   * Traces each upstream request as a client span (`HTTP <METHOD>`, under the tool call's) and
   * sends its `traceparent` upstream; default none: no span, no header.
   */
  tracer?: Tracer;
}

/** The built-in executor of `http` tools. */
export interface HttpExecutor extends PreparingExecutor {
  readonly kind: 'http';
  /** Checks an `http` tool definition; throws `GatewayError('INVALID_PAYLOAD')` saying what to fix. */
  validate(tool: ToolDefinition): void;
  /** Destroys the keep-alive connections; later calls answer with an error result. */
  close(): Promise<void>;
}

interface FailureContext {
  timeoutMs: number;
  maxBytes: number;
  cancellation: CallCancellation;
  status: number | undefined;
}

/** Methods that may be sent again (RFC 9110 §9.2.2); POST and PATCH never are. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Answers that say "try again": the upstream or a proxy in front of it is briefly unavailable. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);
/** Pause before the first retry; it doubles for each further one. */
const RETRY_BASE_DELAY_MS = 100;

/** Waits `ms`; false when the call was cancelled meanwhile. */
function pauseUnlessCancelled(ms: number, cancellation: CallCancellation): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stop();
      resolve(true);
    }, ms);
    const stop = cancellation.onAbort(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Maps a transport failure to a result. Only codes and limits are reported: client messages hold URLs. */
function failureOutcome(error: unknown, context: FailureContext): ToolCallOutcome {
  const { status } = context;
  if (context.cancellation.aborted) return errorOutcome('upstream request cancelled', status);
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
    case 'egress-denied':
      return errorOutcome(egressMessage(failure.denial), status);
    case 'failed':
      return errorOutcome(`upstream request failed: ${failure.code}`, status);
  }
}

/** The tool error of a refused target: host, address and rule, so the operator knows what to change. */
function egressMessage(denial: EgressDenial): string {
  const target = denial.address === undefined || denial.address === denial.host ? denial.host : `${denial.host} (${denial.address})`;
  return `upstream ${target} is denied by the egress policy (${egressRemedy(denial)}); nothing was sent`;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new GatewayError('INTERNAL_ERROR', `createHttpExecutor: ${name} must be a positive integer`);
  }
  return value;
}

/**
 * Creates the executor of the built-in `http` tool kind: it builds the upstream request from the
 * definition and the call's arguments (see {@link buildHttpRequest}), checks the target against the
 * egress policy, sends it over a transport (undici or got) over keep-alive connections (retries of
 * idempotent methods, per-tool timeout, redirects only within the tool's origin and path prefix,
 * response cap counted after decompression) and maps the answer with {@link mapUpstreamAnswer}.
 */
export function createHttpExecutor(options: HttpExecutorOptions): HttpExecutor {
  const defaultTimeoutMs = positiveInteger(options.defaultTimeoutMs, 'defaultTimeoutMs');
  const maxBytesCeiling = positiveInteger(options.maxResponseBytes, 'maxResponseBytes');
  const values = createTemplateValues({
    env: options.env,
    envAllow: options.toolEnvAllow ?? [],
    secretsDir: options.secretsDir ?? DEFAULT_SECRETS_DIR,
    protectedValues: options.protectedValues ?? [],
    claimsAllow: options.toolClaimsAllow ?? [],
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
  const egress = createEgressPolicy({ allow: options.egress?.allow, deny: options.egress?.deny });
  const resolve: HostResolver = options.egress?.resolve ?? ((hostname) => dnsLookup(hostname, { all: true }));
  const lookup = createEgressLookup(egress, resolve);
  // One transport per executor, so connections to an upstream are reused across calls and tools.
  const transport: Transport =
    options.client === 'got'
      ? loadedOnFirstUse(async () => (await import('./got-transport.js')).createGotTransport({ lookup }))
      : createUndiciTransport({ lookup });
  let closed = false;

  /** Write-time checks that depend on this executor's settings rather than on the definition alone. */
  function checkAgainstSettings(tool: CompiledHttpTool): void {
    if (tool.maxResponseBytes !== undefined && tool.maxResponseBytes > maxBytesCeiling) {
      throw new GatewayError(
        'INVALID_PAYLOAD',
        `ext_info.max_response_bytes must not exceed ${maxBytesCeiling}, the gateway's executor.maxResponseBytes (DYNMCP_MAX_RESPONSE_BYTES)`,
      );
    }
    for (const header of tool.headers) values.check(header.value, `ext_info.headers.${header.name}`);
    for (const parameter of tool.queryCredentials) values.check(parameter.value, `ext_info.query.${parameter.name}`);
    const denial = egress.checkTarget(tool.hostname);
    if (denial !== undefined) {
      const target = denial.address === undefined || denial.address === denial.host ? denial.host : `${denial.host} (${denial.address})`;
      throw new GatewayError('INVALID_PAYLOAD', `tds_ext_info.domain: ${target} is denied by the egress policy (${egressRemedy(denial)})`);
    }
  }

  async function send(tool: CompiledHttpTool, request: BuiltRequest, context: ObservedCallContext, cancellation: CallCancellation): Promise<ToolCallOutcome> {
    const timeoutMs = tool.timeoutMs ?? defaultTimeoutMs;
    // Definitions stored before the ceiling was lowered still get no more than it.
    const maxBytes = Math.min(tool.maxResponseBytes ?? maxBytesCeiling, maxBytesCeiling);
    // Same origin and under the tool's path prefix, also as a server that decodes `%2F` reads it;
    // the egress check runs again on every hop (and the connect-time lookup on every new connection).
    const follows = (target: URL) =>
      target.origin === tool.origin &&
      target.pathname.startsWith(tool.redirectPrefix) &&
      !hasHiddenDotSegment(target.pathname) &&
      egress.checkHost(target.hostname) === undefined;
    // The timeout bounds the whole call, retries included.
    const deadline = Date.now() + timeoutMs;
    const retries = IDEMPOTENT_METHODS.has(request.method) ? tool.retries : 0;
    for (let attempt = 0; ; attempt += 1) {
      let status: number | undefined;
      // Progress and log events of an upstream event stream go to the client as they arrive.
      const events = createUpstreamEventHandler(context);
      const pause = RETRY_BASE_DELAY_MS * 2 ** attempt;
      const mayRetry = () => attempt < retries && !cancellation.aborted && Date.now() + pause < deadline;
      try {
        const fetched = await transport.fetch(request, {
          follows,
          timeoutMs: Math.max(1, deadline - Date.now()),
          maxBytes,
          cancellation,
          onStatus: (value) => (status = value),
          onEvent: (event) => events.onEvent(event),
        });
        const { location, streamed } = fetched;
        if (streamed !== true && RETRY_STATUSES.has(fetched.answer.status) && mayRetry()) {
          context.logger.debug('upstream answered a retryable status; retrying', { status: fetched.answer.status, attempt });
          if (await pauseUnlessCancelled(pause, cancellation)) continue;
        }
        const secrets = request.secretQuery;
        // Configured query parameters are credentials: out of the URL and body the model will see.
        const answer = secrets === undefined ? fetched.answer : redactAnswer(fetched.answer, secrets);
        context.observeUpstream?.({ status: answer.status, headers: fetched.headers ?? {}, body: answer.body, streamed: streamed === true });
        const target = REDIRECT_STATUSES.has(answer.status) ? redirectTarget(location, fetched.answer.url) : undefined;
        if (target !== undefined && target.origin !== tool.origin) {
          return errorOutcome(`upstream redirected to another host (${target.host}); not followed`, answer.status);
        }
        if (target !== undefined && !follows(target)) {
          return errorOutcome(`upstream redirected outside the tool's path prefix ${tool.redirectPrefix}; not followed`, answer.status);
        }
        const mapping = { hasOutputSchema: tool.hasOutputSchema, result: tool.result };
        if (streamed === true) {
          const outcome = secrets === undefined ? events.outcome() : redactEventOutcome(events.outcome(), secrets);
          return mapEventStreamOutcome(outcome, answer, mapping);
        }
        return mapUpstreamAnswer(answer, mapping);
      } catch (error) {
        if (error instanceof TransportError && error.failure.kind === 'egress-denied') logDenial(context, tool, error.failure.denial);
        const retryable = error instanceof TransportError && error.failure.kind === 'failed' && status === undefined;
        if (retryable && mayRetry()) {
          context.logger.debug('upstream connection failed; retrying', { attempt });
          if (await pauseUnlessCancelled(pause, cancellation)) continue;
        }
        return failureOutcome(error, { timeoutMs, maxBytes, cancellation, status });
      }
    }
  }

  /**
   * What the egress policy says of `hostname` before a call: IP literals and name rules directly,
   * other names on what they resolve to now (refused only when every address is, as at connect
   * time). A name that does not resolve is not refused: the call would fail, not be denied.
   */
  async function denialBeforeSending(hostname: string): Promise<EgressDenial | undefined> {
    const denial = egress.checkHost(hostname);
    if (denial !== undefined || isIP(hostname.replace(/^\[|\]$/g, '')) !== 0) return denial;
    let first: EgressDenial | undefined;
    try {
      for (const { address } of await resolve(hostname)) {
        const refused = egress.checkAddress(hostname, address);
        if (refused === undefined) return undefined;
        first ??= refused;
      }
    } catch {
      return undefined;
    }
    return first;
  }

  /** The tool compiled for a call, or the error result of a definition that no longer compiles. */
  function compileForCall(tool: ToolDefinition): { ok: true; compiled: CompiledHttpTool } | { ok: false; message: string } {
    try {
      return { ok: true, compiled: compileHttpTool(tool) };
    } catch (error) {
      // Definitions are validated on write; one that slipped through (older data) fails per call.
      if (isGatewayError(error)) return { ok: false, message: `the tool definition is invalid: ${error.message}` };
      throw error;
    }
  }

  // An encoded form body may be several times the size of its arguments; the response cap bounds it too.
  const build = (compiled: CompiledHttpTool, args: Record<string, unknown> | undefined, caller: Principal | undefined) =>
    buildHttpRequest(compiled, args ?? {}, values, { maxBodyBytes: maxBytesCeiling }, caller);

  function logDenial(context: ToolCallContext, tool: CompiledHttpTool, denial: EgressDenial): void {
    options.egress?.onDenied?.();
    context.logger.warn('upstream denied by the egress policy; nothing sent', {
      tool: tool.name,
      origin: tool.origin,
      address: denial.address,
      rule: denial.rule,
      ruleOrigin: denial.origin,
    });
  }

  return {
    kind: 'http',
    validate(tool) {
      checkAgainstSettings(compileHttpTool(tool));
    },
    async prepare(tool, args, caller): Promise<PreparedCall> {
      const compiling = compileForCall(tool);
      if (!compiling.ok) return compiling;
      const { compiled } = compiling;
      const built = build(compiled, args, caller);
      if (!built.ok) return built;
      const request = previewRequest(compiled, built.request);
      const denial = await denialBeforeSending(compiled.hostname);
      return denial === undefined ? { ok: true, request } : { ok: true, request, wouldBeRefused: egressMessage(denial) };
    },
    async execute(tool, args, context) {
      if (closed) return errorOutcome('the http executor is shut down');
      const compiling = compileForCall(tool);
      if (!compiling.ok) return errorOutcome(compiling.message);
      const { compiled } = compiling;
      // IP literals never reach the connect-time lookup, so they are checked here, before any
      // packet and before any secret is read. Host names are checked on what they resolve to.
      const denial = egress.checkHost(compiled.hostname);
      if (denial !== undefined) {
        logDenial(context, compiled, denial);
        return errorOutcome(egressMessage(denial));
      }
      const built = build(compiled, args, context.caller);
      if (!built.ok) {
        context.logger.debug('http tool call refused before sending', { tool: tool.name });
        return errorOutcome(built.message);
      }
      const cancellation = cancellationOf(context);
      if (cancellation.aborted) return errorOutcome('upstream request cancelled');
      const started = Date.now();
      const outcome = await (options.tracer === undefined
        ? send(compiled, built.request, context, cancellation)
        : traceUpstream(options.tracer, compiled, built.request, (request) => send(compiled, request, context, cancellation)));
      // Origin and path only: the query string carries arguments, the headers carry secrets.
      context.logger.debug('http tool call finished', {
        tool: tool.name,
        method: built.request.method,
        origin: compiled.origin,
        path: built.request.url.pathname,
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
