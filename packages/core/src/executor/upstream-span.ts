import type { ToolCallOutcome } from '@dynmcp/plugin';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { startChildSpan, traceHeadersOf, type Tracer } from '../call-tracing.js';
import type { CompiledHttpTool } from './http-tool-config.js';
import type { BuiltRequest } from './request-builder.js';

export type { Tracer } from '../call-tracing.js';

/**
 * Sends one upstream request under a client span (OpenTelemetry HTTP client conventions: method,
 * server address and port, response status), with that span's `traceparent` (and `tracestate`)
 * added to the request, so the upstream continues the caller's trace. The span covers retries and
 * redirects. It never records the URL's query string or any header: they carry arguments and
 * credentials.
 */
export async function traceUpstream(
  tracer: Tracer,
  tool: CompiledHttpTool,
  request: BuiltRequest,
  send: (request: BuiltRequest) => Promise<ToolCallOutcome>,
): Promise<ToolCallOutcome> {
  const { url } = request;
  const span = startChildSpan(tracer, `HTTP ${request.method}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      'http.request.method': request.method,
      'server.address': url.hostname,
      'server.port': url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
      'url.scheme': url.protocol.slice(0, -1),
      'dynmcp.tool.name': tool.name,
    },
  });
  try {
    const outcome = await send({ ...request, headers: { ...request.headers, ...traceHeadersOf(span) } });
    const status = outcome.upstreamStatus;
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    // HTTP client spans are errors from 400 on (OpenTelemetry HTTP conventions), or without an answer.
    if (status === undefined || status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
    return outcome;
  } finally {
    span.end();
  }
}
