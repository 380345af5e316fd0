import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceView } from '@dynmcp/common';
import type { ToolResult } from '@dynmcp/plugin';
import { isJsonContentType } from '@modelcontextprotocol/server';
import { Cancellation } from '../cancellation.js';
import type { CallMetrics } from './call-metrics.js';
import { JsonRpcErrorCode } from './json-rpc-errors.js';
import { requestCallTag } from './mcp-caller.js';
import { MODERN_PROTOCOL_VERSION } from './request-checks.js';
import { decodeToolsCursor, pageOfTools } from './tool-pages.js';
import type { ToolCaller, ToolCallRequestContext } from './tool-call.js';

/** What a fast-path call runs with: its cancellation, the request id, the caller's lease of the limits and its principal. */
export function callContext(req: IncomingMessage, cancellation: Cancellation): ToolCallRequestContext {
  const requestId = req.headers['x-request-id'];
  const tag = requestCallTag(req);
  return {
    cancellation,
    requestId: typeof requestId === 'string' ? requestId : undefined,
    caller: tag?.owner,
    lease: tag?.lease,
    principal: tag?.principal,
  };
}

/** The revision the fast path answers; anything else goes through the SDK. */
const MODERN = MODERN_PROTOCOL_VERSION;
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
// W3C trace context (SEP-414: `traceparent`, `tracestate`) changes no answer: a traced call stays on the fast path.
const ALLOWED_META = new Set([META_VERSION, META_CAPABILITIES, 'io.modelcontextprotocol/clientInfo', 'traceparent', 'tracestate']);

/** What the fast paths need; the call itself is the same function the SDK handler runs. */
export interface FastPathDeps {
  serverInfo: { name: string; version: string };
  /** Tools per tools/list page. */
  pageSize: number;
  /** The definitions' revision, which cursors carry (as the SDK handler's do). */
  revision(): number;
  /** Runs one tools/call, as every other route does. */
  callTool: ToolCaller;
  /** Counts calls of unknown tools. */
  metrics: CallMetrics;
}

type JsonRpcId = string | number;
export type JsonRpcRequest = { jsonrpc: '2.0'; id: JsonRpcId; method: string; params: Record<string, unknown> };

export const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

// Replies are built as objects and encoded with one JSON.stringify, in the key order the SDK
// writes (result or error first as below), so the session equality tests can compare bytes.

/** A JSON-RPC result reply, encoded. */
export const resultReply = (id: JsonRpcId, result: unknown) => JSON.stringify({ result, jsonrpc: '2.0', id });

/** A JSON-RPC error reply, encoded. */
export const errorReply = (id: JsonRpcId, code: number, message: string) => JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });

/** The encoded reply to a call of a tool the view does not have (the SDK handler's), counted. */
export function unknownToolReply(deps: FastPathDeps, id: JsonRpcId, name: string): string {
  deps.metrics.rejected('unknown_tool');
  return errorReply(id, JsonRpcErrorCode.InvalidParams, `Unknown tool: ${name}`);
}

/**
 * The encoded reply of `result` up to its id: the reply of id 0 ends with `"id":0}`, everything
 * before the `0` is the same for every request. Cached per instance view, so a 500-tool listing
 * (~230 KB) is encoded once per definitions change, not per request; the caller appends the id
 * and the closing brace.
 */
export function replyPrefix(result: unknown): string {
  return resultReply(0, result).slice(0, -'0}'.length);
}

/**
 * Whether the fast path answers this request: a plain, well-formed 2026-07-28 `tools/list` (any
 * page, by a cursor this gateway made) or `tools/call` without a session, which it answers byte-for-byte as the SDK would (MCP
 * 2026-07-28 basic/transports/streamable-http: the per-request `_meta` envelope and the Mcp-Method
 * / Mcp-Name / MCP-Protocol-Version headers). Everything else — other methods, progress tokens,
 * log levels, cursors it did not make, encoded names, a Content-Type other than application/json,
 * any mismatch — is answered by the SDK, every error answer included.
 */
export function isFastRequest(req: IncomingMessage, body: unknown): boolean {
  if (req.method !== 'POST' || req.headers['mcp-session-id'] !== undefined) return false;
  if (!isObject(body) || body.jsonrpc !== '2.0') return false;
  const { id, method, params } = body;
  if ((typeof id !== 'string' && typeof id !== 'number') || !isObject(params)) return false;
  if (method !== 'tools/call' && method !== 'tools/list') return false;
  const meta = params._meta;
  if (!isObject(meta) || meta[META_VERSION] !== MODERN || !isObject(meta[META_CAPABILITIES])) return false;
  if (META_LOG_LEVEL in meta || Object.keys(meta).some((key) => !ALLOWED_META.has(key))) return false;
  const headers = req.headers;
  if (headers['mcp-protocol-version'] !== MODERN || headers['mcp-method'] !== method) return false;
  if (!(headers.accept ?? '').includes('application/json')) return false;
  // The front parses any JSON media type (`application/vnd.api+json`…); the SDK handler answers
  // anything but application/json with 415, and so does the gateway, through it.
  if (!isJsonContentType(headers['content-type'])) return false;
  if (method === 'tools/list') return isPlainListParams(params);
  const { name, arguments: args } = params;
  if (typeof name !== 'string' || headers['mcp-name'] !== name || name.startsWith('=?')) return false;
  if (args !== undefined && !isObject(args)) return false;
  return Object.keys(params).every((key) => key === 'name' || key === 'arguments' || key === '_meta');
}

/**
 * `_meta` and at most a cursor the gateway made: a cursor it did not make is the SDK's to refuse,
 * with its own error answer.
 */
function isPlainListParams(params: Record<string, unknown>): boolean {
  const { cursor } = params;
  if (cursor === undefined) return Object.keys(params).length === 1;
  return Object.keys(params).length === 2 && typeof cursor === 'string' && decodeToolsCursor(cursor) !== undefined;
}

/**
 * A tool result as the SDK's 2026-07-28 encoder sends it: `resultType: "complete"` unless the
 * result has one, and the server's identity in `_meta` unless the result's `_meta` already names
 * one (or is not an object, which the SDK leaves alone too).
 */
function modernResult(result: ToolResult, serverMeta: Record<string, unknown>): Record<string, unknown> {
  const own = result as ToolResult & { resultType?: unknown };
  // Object.assign, then keys set: the same key order as `{ ...result, resultType }`, at a fraction
  // of its cost on Node 20 (a spread followed by more keys is slow there).
  const stamped: Record<string, unknown> = Object.assign<Record<string, unknown>, ToolResult>({}, result);
  if (own.resultType === undefined) stamped.resultType = 'complete';
  const meta = stamped._meta;
  if (meta === undefined) stamped._meta = serverMeta;
  else if (isObject(meta) && meta[META_SERVER_INFO] === undefined) stamped._meta = { ...meta, ...serverMeta };
  return stamped;
}

/**
 * The hot path of a stateless gateway: the requests {@link isFastRequest} accepts, answered without
 * building an SDK server per request. Each tools/list page is encoded once per instance view and
 * revision (that is, per definitions change), so listing 500 tools costs what listing 10 does.
 */
export function createFastPath(deps: FastPathDeps) {
  const metas = new Map<string, Record<string, unknown>>();
  const serverMeta = (instanceId: string) => {
    let meta = metas.get(instanceId);
    if (meta === undefined) {
      meta = { [META_SERVER_INFO]: { name: `${deps.serverInfo.name}/${instanceId}`, version: deps.serverInfo.version } };
      // Bounded: instance ids come from the definitions, but keep a deleted id from lingering forever.
      if (metas.size > 10_000) metas.clear();
      metas.set(instanceId, meta);
    }
    return meta;
  };
  /** Encoded pages of a view by cursor ('' for the first), valid for one revision (cursors carry it). */
  const listings = new WeakMap<InstanceView, { revision: number; pages: Map<string, Buffer> }>();

  function listPrefix(view: InstanceView, cursor: string | undefined): Buffer {
    const revision = deps.revision();
    let cached = listings.get(view);
    if (cached === undefined || cached.revision !== revision) {
      cached = { revision, pages: new Map() };
      listings.set(view, cached);
    }
    const key = cursor ?? '';
    let prefix = cached.pages.get(key);
    if (prefix === undefined) {
      // The SDK handler's page (instance-server.ts), in the key order its 2026-07-28 encoder writes.
      const page = pageOfTools(view.listings, cursor, deps.pageSize, revision);
      const result =
        page.nextCursor === undefined
          ? { tools: page.tools, resultType: 'complete', ttlMs: 0, cacheScope: 'private', _meta: serverMeta(view.id) }
          : { tools: page.tools, nextCursor: page.nextCursor, resultType: 'complete', ttlMs: 0, cacheScope: 'private', _meta: serverMeta(view.id) };
      prefix = Buffer.from(replyPrefix(result));
      // Bounded by the number of pages: cursors isFastRequest lets through name a tool, and a
      // cursor naming a removed tool still maps to the page after it.
      if (cached.pages.size > view.listings.length / deps.pageSize + 16) cached.pages.clear();
      cached.pages.set(key, prefix);
    }
    return prefix;
  }

  function send(res: ServerResponse, text: string) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Answers a request {@link isFastRequest} accepted for `view`. */
  return function answerFast(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown): void {
    const request = body as JsonRpcRequest;
    const id = request.id;
    if (request.method === 'tools/list') {
      const prefix = listPrefix(view, request.params.cursor as string | undefined);
      const tail = `${JSON.stringify(id)}}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': prefix.length + Buffer.byteLength(tail) });
      res.write(prefix);
      res.end(tail);
      return;
    }
    const name = request.params.name as string;
    const tool = view.toolsByName.get(name);
    if (tool === undefined) return send(res, unknownToolReply(deps, id, name));
    // Closing the response stream is cancellation in 2026-07-28: abort the upstream call.
    const cancellation = new Cancellation();
    const onClose = () => {
      if (!res.writableFinished) cancellation.abort();
    };
    res.once('close', onClose);
    deps
      .callTool(view.id, tool, (request.params.arguments ?? {}) as Record<string, unknown>, callContext(req, cancellation))
      .then((result) => {
        if (cancellation.aborted) return;
        send(res, resultReply(id, modernResult(result, serverMeta(view.id))));
      })
      .catch(() => {
        if (!res.headersSent) send(res, errorReply(id, JsonRpcErrorCode.InternalError, 'Internal error'));
      })
      .finally(() => res.off('close', onClose));
  };
}
