import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@dynmcp/plugin';
import type { Tracer } from '@opentelemetry/api';
import { tracingSettingsFrom } from './tracing-settings.js';

/** The trace of one `/mcp` request, begun on arrival by {@link McpRequestTracing.begin}. */
export interface McpRequestTrace {
  /**
   * Runs the gateway's handling of the request inside the request's server span, so the tool
   * calls and upstream requests it makes become its children. The span continues the caller's
   * trace: the `traceparent` (and `tracestate`) header, else the message's `params._meta`.
   */
  within<T>(body: unknown, run: () => T): T;
}

/** Server spans of `/mcp` requests, for the MCP front. */
export interface McpRequestTracing {
  /** Begins tracing a request; its span ends, with the response status, when the response closes. */
  begin(req: IncomingMessage, res: ServerResponse, instanceId: string): McpRequestTrace;
}

/** Tracing as the gateway runs it: on only when the `OTEL_*` variables ask for it. */
export interface GatewayTracing {
  /** For the MCP gateway (tool call spans) and the http executor (upstream spans). */
  readonly tracer: Tracer;
  /** For the MCP front (request spans). */
  readonly requests: McpRequestTracing;
  /** Exports the spans still buffered, then stops. */
  close(): Promise<void>;
}

/**
 * Starts tracing when the `OTEL_*` variables of `env` enable it (see tracing-settings.ts), else
 * resolves `undefined` without loading the OpenTelemetry SDK: the SDK and its exporter are
 * imported only here, on demand.
 */
export async function startTracing(env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<GatewayTracing | undefined> {
  const settings = tracingSettingsFrom(env);
  if (settings === undefined) return undefined;
  const { startOtelTracing } = await import('./otel-tracing.js');
  const tracing = await startOtelTracing(settings, logger);
  logger.info('tracing on', { endpoint: new URL(settings.url).origin, protocol: settings.protocol, serviceName: settings.serviceName });
  return tracing;
}
