// An OTLP/HTTP traces receiver for tests: a real node:http server on 127.0.0.1 that records every
// `POST /v1/traces` body (JSON encoding, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) and decodes the spans.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP JSON attribute value (`AnyValue`), reduced to what spans here carry. */
type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };

/** One span as received, attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty or absent for a root span. */
  parentSpanId?: string;
  name: string;
  /** OTLP `SpanKind`: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean | undefined>;
  events: { name: string; attributes: Record<string, string | number | boolean | undefined> }[];
  status?: { code?: number };
  /** The `service.name` of the resource that sent it. */
  serviceName: string | undefined;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value of `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** How many export requests arrived (any path). */
  requests(): number;
  /** The content type of each `POST /v1/traces`: `application/json` or `application/x-protobuf`. */
  contentTypes(): string[];
  spans(): ReceivedSpan[];
  close(): Promise<void>;
}

type KeyValue = { key: string; value: AnyValue };

function flatten(attributes: KeyValue[] | undefined): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const { key, value } of attributes ?? []) {
    out[key] = value.stringValue ?? (value.intValue === undefined ? undefined : Number(value.intValue)) ?? value.boolValue ?? value.doubleValue;
  }
  return out;
}

interface ExportBody {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: (Omit<ReceivedSpan, 'attributes' | 'events' | 'serviceName'> & { attributes?: KeyValue[]; events?: { name: string; attributes?: KeyValue[] }[] })[] }[];
  }[];
}

/** Starts a receiver on 127.0.0.1 with an ephemeral port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: ExportBody[] = [];
  let requests = 0;
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    requests += 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const type = req.headers['content-type'] ?? '';
        contentTypes.push(type);
        // Protobuf bodies are only counted: the spans are decoded from the JSON encoding.
        if (type.startsWith('application/json')) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportBody);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    contentTypes: () => contentTypes,
    spans: () =>
      bodies.flatMap((body) =>
        (body.resourceSpans ?? []).flatMap((resourceSpans) => {
          const serviceName = flatten(resourceSpans.resource?.attributes)['service.name'] as string | undefined;
          return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
            (scope.spans ?? []).map((span) => ({
              ...span,
              attributes: flatten(span.attributes),
              events: (span.events ?? []).map((event) => ({ name: event.name, attributes: flatten(event.attributes) })),
              serviceName,
            })),
          );
        }),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
