import type { RequestHandler } from 'express';
import { assertPrincipalId, servedAsIs, type LiveDefinitions, type LiveTool } from '@dynmcp/common';
import { Cancellation, canPrepare, shownBody, type RequestPreview, type ToolCaller, type UpstreamExchange } from '@dynmcp/core';
import { GatewayError, type Principal, type ToolExecutor, type ToolResult } from '@dynmcp/plugin';
import { sendSuccess } from '../http/envelope.js';
import type { AdminService } from './admin-service.js';

/** The body of `POST /admin/tds/:id/test`. */
export interface ToolTestRequest {
  /** The call's arguments, as an MCP client would send them; `{}` when absent. */
  arguments: Record<string, unknown>;
  /** Send the request upstream (`true`) or only show it (`false`, the default). */
  send: boolean;
  /**
   * Call as this principal id (its stored credentials fill `${principal:…}`; it has no token
   * claims); absent: as the admin principal making the test call.
   */
  principal?: string;
}

/** The upstream's answer to a test call, bounded for display. */
export interface ShownResponse {
  status: number;
  /** At most {@link MAX_SHOWN_HEADERS} headers, each value at most {@link MAX_HEADER_CHARS} characters; `set-cookie` values masked. */
  headers: Record<string, string>;
  body: string;
  body_bytes: number;
  body_truncated: boolean;
}

/** What a test call answers (the `data` of the admin envelope). */
export interface ToolTestReport {
  tool: { id: string; name: string; kind: string; revision: number; listed_by: string[] };
  /** Whether the arguments conform to the tool's `input_schema`; nothing is built or sent when not. */
  valid: boolean;
  /** What is wrong with the arguments, when `valid` is false. */
  problems?: string;
  /** Whether the request went upstream. */
  sent: boolean;
  /** The request the executor builds, credentials masked; absent when it refuses to build one (see `result`). */
  request?: RequestPreview;
  /** The egress policy would refuse the target: which host and rule (dry runs; a sent call has it in `result`). */
  would_be_refused?: string;
  /** The final upstream answer of a sent call; `null` when none came (refused, unreachable, timed out). */
  response?: ShownResponse | null;
  /** The MCP tool result a client would get (sent calls, or a dry run whose request cannot be built). */
  result?: ToolResult;
}

/** Runs test calls of tools for the admin API. */
export interface ToolTester {
  test(
    id: string,
    request: ToolTestRequest,
    context: { cancellation: Cancellation; caller: string | undefined; principal?: Principal | undefined },
  ): Promise<ToolTestReport>;
}

/** Options of {@link createToolTester}. */
export interface ToolTesterOptions {
  definitions: LiveDefinitions;
  service: AdminService;
  executorFor(kind: string): ToolExecutor | undefined;
  /**
   * The tool caller MCP calls go through (validation, executor, output check, result size cap),
   * so a test call gets exactly the result a client would.
   */
  callTool: ToolCaller;
}

export const MAX_SHOWN_HEADERS = 64;
export const MAX_HEADER_CHARS = 2048;
const MASK = '***';
/** Stands for the instance in the call's log line: test calls are served by no instance (ids cannot contain `:`). */
const TEST_INSTANCE = 'admin:test';
const BODY_KEYS: ReadonlySet<string> = new Set(['arguments', 'send', 'principal']);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads the body of `POST /admin/tds/:id/test`; throws `INVALID_PAYLOAD` saying what to fix. */
export function parseToolTestRequest(body: unknown): ToolTestRequest {
  if (!isPlainObject(body)) {
    throw new GatewayError('INVALID_PAYLOAD', 'send a JSON object: { "arguments": { … }, "send": false }');
  }
  const unknown = Object.keys(body).filter((key) => !BODY_KEYS.has(key));
  if (unknown.length > 0) {
    throw new GatewayError('INVALID_PAYLOAD', `unknown field(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}: a test call takes only "arguments", "send" and "principal"`);
  }
  const args = body['arguments'] ?? {};
  if (!isPlainObject(args)) throw new GatewayError('INVALID_PAYLOAD', '"arguments" must be an object, as in an MCP tools/call');
  const send = body['send'] ?? false;
  if (typeof send !== 'boolean') throw new GatewayError('INVALID_PAYLOAD', '"send" must be true (call the upstream) or false (only show the request)');
  const principal = body['principal'];
  if (principal === undefined) return { arguments: args, send };
  if (typeof principal !== 'string') throw new GatewayError('INVALID_PAYLOAD', '"principal" must be a principal id (a string)');
  assertPrincipalId(principal);
  return { arguments: args, send, principal };
}

function shownHeaders(headers: UpstreamExchange['headers']): Record<string, string> {
  const shown: Record<string, string> = {};
  let count = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (count++ >= MAX_SHOWN_HEADERS) break;
    // Cookies the upstream sets are session credentials; the name says enough.
    const text = name.toLowerCase() === 'set-cookie' ? MASK : Array.isArray(value) ? value.join(', ') : value;
    shown[name] = text.length > MAX_HEADER_CHARS ? `${text.slice(0, MAX_HEADER_CHARS)}…` : text;
  }
  return shown;
}

function shownResponse(exchange: UpstreamExchange): ShownResponse {
  return { status: exchange.status, headers: shownHeaders(exchange.headers), ...shownBody(exchange.body) };
}

/**
 * Creates the logic of `POST /admin/tds/:id/test`: tries a tool before any client sees it. The
 * tool comes from the live definitions, which hold every valid tool whether or not an instance
 * lists it. Arguments are validated with the tool's compiled input schema, as in `tools/call`;
 * then the executor shows the request it would send (credentials masked), and with `send` the
 * call runs through the same tool caller as MCP calls, with the upstream's raw answer beside the
 * result.
 */
export function createToolTester(options: ToolTesterOptions): ToolTester {
  const { definitions } = options;

  async function liveTool(id: string): Promise<LiveTool> {
    const live = definitions.tool(id);
    if (live !== undefined) return live;
    // Throws TOOL_NOT_FOUND when there is no such record at all.
    await options.service.getTool(id);
    if (!definitions.status().ready) {
      throw new GatewayError('STORE_UNAVAILABLE', 'the definitions have not loaded yet; retry in a moment');
    }
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `tool "${id}" is stored but this gateway refused its definition (GET /readyz lists invalid records); fix it with PUT /admin/tds/${id}`,
    );
  }

  return {
    async test(id, request, context) {
      const tool = await liveTool(id);
      const { definition } = tool;
      const kind = definition.kind ?? 'http';
      const report: ToolTestReport = {
        tool: { id: definition.id, name: definition.name, kind, revision: tool.revision, listed_by: definitions.instancesUsing(id) },
        valid: true,
        sent: false,
      };
      const problems = tool.validateArguments(request.arguments);
      if (problems !== undefined) return { ...report, valid: false, problems };
      const executor = options.executorFor(kind);
      const caller: Principal | undefined =
        request.principal === undefined ? context.principal : { id: request.principal, admin: false, instances: [] };
      const prepared =
        executor !== undefined && canPrepare(executor) ? await executor.prepare(definition, request.arguments, caller) : undefined;
      if (!request.send) {
        if (prepared === undefined) {
          throw new GatewayError('INVALID_PAYLOAD', `dry run not supported for kind "${kind}": its executor cannot show a request without sending it; use "send": true`);
        }
        if (!prepared.ok) return { ...report, result: { content: [{ type: 'text', text: prepared.message }], isError: true } };
        return { ...report, request: prepared.request, ...(prepared.wouldBeRefused === undefined ? {} : { would_be_refused: prepared.wouldBeRefused }) };
      }
      let exchange: UpstreamExchange | undefined;
      const result = await options.callTool(TEST_INSTANCE, servedAsIs(tool), request.arguments, {
        cancellation: context.cancellation,
        requestId: undefined,
        caller: context.caller,
        principal: caller,
        observeUpstream: (seen) => (exchange = seen),
      });
      return {
        ...report,
        sent: true,
        ...(prepared?.ok === true ? { request: prepared.request } : {}),
        response: exchange === undefined ? null : shownResponse(exchange),
        result,
      };
    },
  };
}

/**
 * The handler of `POST /admin/tds/:id/test`. The router parses the body before it with
 * `optionalJsonBody` (admin-json-body.ts): a request without one is `{}`, every field at its default.
 */
export function toolTestRoute(tester: ToolTester): RequestHandler {
  return (req, res, next) => {
    const request = parseToolTestRequestSafely(req.body, next);
    if (request === undefined) return;
    // A test call the admin stops waiting for is cancelled upstream, like an MCP call.
    const cancellation = new Cancellation();
    res.on('close', () => {
      if (!res.writableFinished) cancellation.abort();
    });
    tester
      .test(req.params['id'] as string, request, { cancellation, caller: req.principal?.id, principal: req.principal })
      .then((report) => sendSuccess(res, report))
      .catch(next);
  };
}

function parseToolTestRequestSafely(body: unknown, next: (error: unknown) => void): ToolTestRequest | undefined {
  try {
    return parseToolTestRequest(body);
  } catch (error) {
    next(error);
    return undefined;
  }
}
