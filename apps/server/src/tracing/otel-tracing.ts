// The OpenTelemetry SDK side of tracing, imported only when the OTEL_* variables turn tracing on
// (gateway-tracing.ts), so a gateway without tracing never loads the SDK or an exporter.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { eraOf, methodOf } from '@dynmcp/core';
import type { Logger } from '@dynmcp/plugin';
import { context, defaultTextMapGetter, diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { SERVER_INFO } from '../server-info.js';
import type { GatewayTracing, McpRequestTrace, McpRequestTracing } from './gateway-tracing.js';
import type { TracingSettings } from './tracing-settings.js';

/** The OTLP/HTTP exporter of the configured encoding; each is its own package, loaded on demand. */
async function createExporter(settings: TracingSettings): Promise<SpanExporter> {
  if (settings.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url: settings.url });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: settings.url });
}

/**
 * Starts the SDK: a tracer provider (which reads `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`
 * and the span limits from the environment; default: parent-based, always on), a batch processor
 * (`OTEL_BSP_*`) exporting over OTLP/HTTP, and the AsyncLocalStorage context manager that carries
 * the active span from the MCP front through the routes to the tool call and the upstream request.
 * The tracer is handed to the parts that trace; no global tracer provider is registered.
 */
export async function startOtelTracing(settings: TracingSettings, logger: Logger): Promise<GatewayTracing> {
  // The SDK reports failed exports (collector unreachable, refused) through its diagnostic logger,
  // silent by default; they belong in the gateway's log.
  const log = logger.child({ component: 'tracing' });
  diag.setLogger(
    {
      error: (message) => log.warn('opentelemetry error', { message }),
      warn: (message) => log.warn('opentelemetry warning', { message }),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const exporter = await createExporter(settings);
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: SERVER_INFO.version }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  // The context manager is process-wide in OpenTelemetry: a second traced gateway in the same
  // process shares the first one's and leaves it in place when it closes.
  const registered = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracer = provider.getTracer(SERVER_INFO.name, SERVER_INFO.version);
  return {
    tracer,
    requests: createRequestTracing(tracer),
    async close() {
      // Shutting the provider down exports what the batch processor still holds.
      await provider.shutdown();
      if (registered) {
        context.disable();
        diag.disable();
      }
    },
  };
}

const propagator = new W3CTraceContextPropagator();

/** The caller's trace context: the `traceparent`/`tracestate` headers, else the message's `params._meta` (SEP-414). */
function parentOf(req: IncomingMessage, body: unknown): Context {
  const fromHeaders = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
  if (trace.getSpanContext(fromHeaders) !== undefined || Array.isArray(body)) return fromHeaders;
  const params = body !== null && typeof body === 'object' ? (body as { params?: unknown }).params : undefined;
  const meta = params !== null && typeof params === 'object' ? (params as { _meta?: unknown })._meta : undefined;
  if (meta === null || typeof meta !== 'object') return fromHeaders;
  const { traceparent, tracestate } = meta as { traceparent?: unknown; tracestate?: unknown };
  if (typeof traceparent !== 'string') return fromHeaders;
  return propagator.extract(ROOT_CONTEXT, { traceparent, ...(typeof tracestate === 'string' && { tracestate }) }, defaultTextMapGetter);
}

/** The span name's method: one of the fixed set (never a caller's string), `batch`, or the HTTP method of a bodiless request. */
function spanMethod(req: IncomingMessage, body: unknown): string {
  if (Array.isArray(body)) return 'batch';
  return body === undefined ? (req.method ?? 'other') : methodOf(body);
}

function createRequestTracing(tracer: Tracer): McpRequestTracing {
  return {
    begin(req, res, instanceId) {
      return new RequestTrace(tracer, req, res, instanceId);
    },
  };
}

/**
 * One request's server span. It is started once the body is known (its `_meta` may carry the
 * parent), backdated to the request's arrival; a request refused before its body was read gets
 * its span when the response closes.
 */
class RequestTrace implements McpRequestTrace {
  #span: Span | undefined;
  #closed = false;
  readonly #arrived = performance.now();

  constructor(
    private readonly tracer: Tracer,
    private readonly req: IncomingMessage,
    res: ServerResponse,
    private readonly instanceId: string,
  ) {
    res.on('close', () => {
      this.#closed = true;
      const span = this.#span ?? this.#start(undefined);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
  }

  within<T>(body: unknown, run: () => T): T {
    // Closed already (the client went away): a span started now would never end.
    if (this.#closed) return run();
    const span = this.#start(body);
    return context.with(trace.setSpan(context.active(), span), run);
  }

  #start(body: unknown): Span {
    const { req } = this;
    const method = spanMethod(req, body);
    this.#span = this.tracer.startSpan(
      `mcp ${method}`,
      {
        kind: SpanKind.SERVER,
        startTime: this.#arrived,
        attributes: {
          'dynmcp.instance.id': this.instanceId,
          'mcp.method.name': method,
          'dynmcp.era': eraOf(req, body),
          'http.request.method': req.method ?? 'other',
          'http.route': '/mcp/{instanceId}',
        },
      },
      parentOf(req, body),
    );
    return this.#span;
  }
}
