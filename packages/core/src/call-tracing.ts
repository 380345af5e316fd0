import { context, trace, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Tracing in @dynmcp/core speaks the OpenTelemetry API only (`@opentelemetry/api`: no
 * dependencies, no SDK). The MCP gateway, the tool caller and the http executor take an optional
 * {@link Tracer} through their options; without one (tracing off, the default) they create no span
 * and add nothing to a request, at the cost of one `undefined` check. The server builds the tracer
 * from the `OTEL_*` variables and registers the context manager that carries the active span
 * across awaits, so a span started here finds its parent whichever route served the request.
 */
export type { Tracer } from '@opentelemetry/api';

/** Runs `fn` with `span` as the active span, so spans started inside become its children. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Starts a span under the active one (the caller's request, or the tool call). */
export function startChildSpan(tracer: Tracer, name: string, options: Parameters<Tracer['startSpan']>[1]): Span {
  return tracer.startSpan(name, options, context.active());
}

/**
 * The W3C `traceparent` of `span` (Trace Context §3.2: version 00, trace id, parent id, flags),
 * and its `tracestate` when it has one: what the upstream needs to continue the trace.
 */
export function traceHeadersOf(span: Span): { traceparent: string; tracestate?: string } {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  const traceparent = `00-${traceId}-${spanId}-0${(traceFlags & 1).toString(16)}`;
  const state = traceState?.serialize();
  return state ? { traceparent, tracestate: state } : { traceparent };
}
