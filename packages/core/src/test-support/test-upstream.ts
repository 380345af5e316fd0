// Test support for the executor tests: real node:http upstreams on 127.0.0.1 that record what they
// receive, and small builders for definitions and call contexts. Not part of the public surface.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '@dynmcp/plugin';
import type { JsonObject, Logger, ToolCallContext, ToolDefinition } from '@dynmcp/plugin';

/** One request as the upstream saw it. */
export interface RecordedRequest {
  method: string;
  /** The raw request target, e.g. `/v1/users/42?limit=1`. */
  target: string;
  pathname: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** True once the TCP connection that carried this request has closed. */
  socketClosed(): boolean;
}

/** A running upstream. */
export interface TestUpstream {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Answers one request; `request` is already recorded and its body read. */
export type UpstreamHandler = (request: RecordedRequest, res: http.ServerResponse) => void;

/** A handler that answers 200 with a JSON echo of what it received. */
export const echoHandler: UpstreamHandler = (request, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ method: request.method, target: request.target, body: request.body }));
};

/** Starts an upstream on 127.0.0.1 with an ephemeral port. */
export async function startUpstream(handler: UpstreamHandler = echoHandler): Promise<TestUpstream> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    let closed = false;
    req.socket.once('close', () => (closed = true));
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = req.url ?? '';
      const parsed = new URL(target, 'http://upstream.invalid');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        target,
        pathname: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socketClosed: () => closed,
      };
      requests.push(recorded);
      handler(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Fields of an `http` tool that tests vary. */
export interface TestToolFields {
  domain: string;
  path: string;
  method?: string;
  input_schema?: JsonObject;
  output_schema?: JsonObject;
  required_params?: JsonObject;
  ext_info?: JsonObject;
}

/** An `http` tool definition, fresh object each time (the compile cache is keyed by object). */
export function httpTool(fields: TestToolFields): ToolDefinition {
  const tool: ToolDefinition = {
    id: 'tool-1',
    name: 'test_tool',
    input_schema: fields.input_schema ?? { type: 'object' },
    tds_ext_info: {
      domain: fields.domain,
      method: fields.method ?? 'GET',
      path: fields.path,
      required_params: fields.required_params ?? {},
      ext_info: fields.ext_info ?? {},
    },
  };
  if (fields.output_schema !== undefined) tool.output_schema = fields.output_schema;
  return tool;
}

/** A call context with a silent logger; pass `signal` to test cancellation. */
export function callContext(signal: AbortSignal = new AbortController().signal): ToolCallContext {
  return { signal, logger: silentLogger, progress() {}, log() {} };
}

/** Everything logged, for checks that no secret reaches a log line. */
export interface CapturedLog {
  logger: Logger;
  lines: { level: string; message: string; meta: Record<string, unknown> | undefined }[];
}

/** A logger that records every line (children included). */
export function capturingLogger(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: string) => (message: string, meta?: Record<string, unknown>) => {
      lines.push({ level, message, meta: { ...bindings, ...meta } });
    };
    return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: (more) => make({ ...bindings, ...more }) };
  };
  return { logger: make({}), lines };
}

/** The text of the first content block, or a failure when it is not text. */
export function firstText(result: { content: { type: string }[] }): string {
  const block = result.content[0] as { type: string; text?: string } | undefined;
  if (block?.type !== 'text' || block.text === undefined) throw new Error(`expected a text block, got ${JSON.stringify(block)}`);
  return block.text;
}
