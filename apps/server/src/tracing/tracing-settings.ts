import { GatewayError } from '@dynmcp/plugin';

/** The OTLP encodings the gateway can export spans in (`OTEL_EXPORTER_OTLP_PROTOCOL`). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
/** One of {@link OTLP_PROTOCOLS}. */
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** How spans are exported, from the standard `OTEL_*` variables. */
export interface TracingSettings {
  /** Where spans are posted: the traces endpoint as given, or the general endpoint + `/v1/traces`. */
  url: string;
  protocol: OtlpProtocol;
  /** `OTEL_SERVICE_NAME`, default `dynmcp`. */
  serviceName: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/**
 * Tracing settings from the standard OpenTelemetry variables (OpenTelemetry "Environment Variable
 * Specification" and "OTLP Exporter Configuration"); `undefined` means tracing is off: no
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` nor `OTEL_EXPORTER_OTLP_ENDPOINT`, or `OTEL_SDK_DISABLED=true`.
 * These are not DYNMCP_* settings: operators and platforms set them the same way for every
 * service. The SDK itself reads the rest (`OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_BSP_*`, `OTEL_RESOURCE_ATTRIBUTES`, ...) from the process environment.
 */
export function tracingSettingsFrom(env: Env): TracingSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // The signal-specific endpoint is used as given; the general one gets the signal's path.
  const url = set(tracesEndpoint) ? tracesEndpoint.trim() : set(endpoint) ? `${endpoint.trim().replace(/\/+$/, '')}/v1/traces` : undefined;
  if (url === undefined) return undefined;
  try {
    new URL(url);
  } catch {
    throw new GatewayError('INTERNAL_ERROR', `invalid OpenTelemetry setting: the OTLP traces endpoint "${url}" is not a URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT)`);
  }
  const given = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  // http/protobuf is the specification's default.
  const protocol = set(given) ? given.trim() : 'http/protobuf';
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new GatewayError(
      'INTERNAL_ERROR',
      `invalid OpenTelemetry setting: OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}" is not supported; use ${OTLP_PROTOCOLS.join(' or ')}`,
    );
  }
  return { url, protocol: protocol as OtlpProtocol, serviceName: set(env.OTEL_SERVICE_NAME) ? env.OTEL_SERVICE_NAME.trim() : 'dynmcp' };
}
