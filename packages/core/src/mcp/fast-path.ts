import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveDefinitions, InstanceView } from '@dynmcp/common';
import { requestCallTag } from './mcp-caller.js';
import { MODERN_PROTOCOL_VERSION } from './request-checks.js';
import type { FastSession } from './session-store.js';
import type { ToolCaller } from './tool-call.js';

/** The revision the fast path answers; anything else goes through the SDK. */
const MODERN = MODERN_PROTOCOL_VERSION;
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const ALLOWED_META = new Set([META_VERSION, META_CAPABILITIES, 'io.modelcontextprotocol/clientInfo']);

/** What the fast path needs; the call itself is the same function the SDK handler runs. */
export interface FastPathDeps {
  definitions: LiveDefinitions;
  serverInfo: { name: string; version: string };
  /** Tools per tools/list page; an instance with more is listed through the SDK. */
  pageSize: number;
  /** Runs one tools/call, as every other leg does. */
  callTool: ToolCaller;
}

type JsonRpcRequest = { jsonrpc: '2.0'; id: string | number; method: string; params: Record<string, unknown> };

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Whether `body` is a plain, well-formed 2026-07-28 `tools/list` or `tools/call` that the fast path
 * answers byte-for-byte as the SDK would (MCP 2026-07-28 basic/transports/streamable-http: the
 * per-request `_meta` envelope and the Mcp-Method / Mcp-Name / MCP-Protocol-Version headers).
 * Everything else — other methods, progress tokens, log levels, cursors, encoded names, any
 * mismatch — returns false and the SDK answers it, including every error answer.
 */
function plainModernRequest(req: IncomingMessage, body: unknown): JsonRpcRequest | undefined {
  if (!isObject(body) || body.jsonrpc !== '2.0') return undefined;
  const { id, method, params } = body;
  if ((typeof id !== 'string' && typeof id !== 'number') || !isObject(params)) return undefined;
  if (method !== 'tools/call' && method !== 'tools/list') return undefined;
  const meta = params._meta;
  if (!isObject(meta) || meta[META_VERSION] !== MODERN || !isObject(meta[META_CAPABILITIES])) return undefined;
  if (META_LOG_LEVEL in meta || Object.keys(meta).some((key) => !ALLOWED_META.has(key))) return undefined;
  const headers = req.headers;
  if (headers['mcp-protocol-version'] !== MODERN || headers['mcp-method'] !== method) return undefined;
  if (!(headers.accept ?? '').includes('application/json')) return undefined;
  if (method === 'tools/list') {
    return Object.keys(params).length === 1 ? (body as JsonRpcRequest) : undefined;
  }
  const { name, arguments: args } = params;
  if (typeof name !== 'string' || headers['mcp-name'] !== name || name.startsWith('=?')) return undefined;
  if (args !== undefined && !isObject(args)) return undefined;
  if (Object.keys(params).some((key) => key !== 'name' && key !== 'arguments' && key !== '_meta')) return undefined;
  return body as JsonRpcRequest;
}

/**
 * The hot path of a stateless gateway: plain 2026-07-28 `tools/list` and `tools/call` answered
 * without building an SDK server per request. The tools/list answer is rendered once per instance
 * view (that is, per configuration change), so listing 500 tools costs what listing 10 does.
 */
export function createFastPath(deps: FastPathDeps) {
  const metas = new Map<string, string>();
  const serverMeta = (instanceId: string) => {
    let meta = metas.get(instanceId);
    if (meta === undefined) {
      const info = { name: `${deps.serverInfo.name}/${instanceId}`, version: deps.serverInfo.version };
      meta = JSON.stringify({ 'io.modelcontextprotocol/serverInfo': info });
      // Bounded: instance ids come from the configuration, but keep a deleted id from lingering forever.
      if (metas.size > 10_000) metas.clear();
      metas.set(instanceId, meta);
    }
    return meta;
  };
  // Encoded once per instance view: a 500-tool listing is ~230 KB that is never re-serialised.
  const listings = new WeakMap<InstanceView, Buffer>();

  function listPrefix(view: InstanceView): Buffer {
    let prefix = listings.get(view);
    if (prefix === undefined) {
      prefix = Buffer.from(
        `{"result":{"tools":${JSON.stringify(view.listings)},"resultType":"complete","ttlMs":0,"cacheScope":"private","_meta":${serverMeta(view.id)}},"jsonrpc":"2.0","id":`,
      );
      listings.set(view, prefix);
    }
    return prefix;
  }

  function send(res: ServerResponse, text: string) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Answers the request and returns true, or returns false (nothing written) for the SDK to answer. */
  return function tryFastPath(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown): boolean {
    const request = plainModernRequest(req, body);
    if (request === undefined) return false;
    const id = JSON.stringify(request.id);
    if (request.method === 'tools/list') {
      if (view.listings.length > deps.pageSize) return false;
      const prefix = listPrefix(view);
      const tail = `${id}}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': prefix.length + Buffer.byteLength(tail) });
      res.write(prefix);
      res.end(tail);
      return true;
    }
    const name = request.params.name as string;
    if (!view.toolsByName.has(name)) {
      send(res, `{"jsonrpc":"2.0","id":${id},"error":{"code":-32602,"message":${JSON.stringify(`Unknown tool: ${name}`)}}}`);
      return true;
    }
    // Closing the response stream is cancellation in 2026-07-28: abort the upstream call.
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const requestId = req.headers['x-request-id'];
    const tag = requestCallTag(req);
    deps
      .callTool(view.id, name, (request.params.arguments ?? {}) as Record<string, unknown>, {
        signal: abort.signal,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        caller: tag?.owner,
        lease: tag?.lease,
      })
      .then((result) => {
        if (abort.signal.aborted) return;
        const payload = result ?? { content: [{ type: 'text', text: `Unknown tool: ${name}` }], isError: true };
        const text = JSON.stringify(payload);
        send(res, `{"result":${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"resultType":"complete","_meta":${serverMeta(view.id)}},"jsonrpc":"2.0","id":${id}}`);
      })
      .catch(() => {
        if (!res.headersSent) send(res, `{"jsonrpc":"2.0","id":${id},"error":{"code":-32603,"message":"Internal error"}}`);
      })
      .finally(() => res.off('close', onClose));
    return true;
  };
}

/** The 2025-era revisions whose session requests the fast path answers (the SDK validates others). */
const LEGACY_VERSIONS = new Set(['2025-11-25', '2025-06-18', '2025-03-26']);

/**
 * Whether `body` is a plain `tools/list` (no cursor) or `tools/call` (no `_meta`: no progress
 * token) of a live 2025-era session, with a supported protocol version header.
 */
function plainSessionRequest(req: IncomingMessage, body: unknown, session: FastSession): JsonRpcRequest | undefined {
  if (session.logging || !isObject(body) || body.jsonrpc !== '2.0') return undefined;
  const { id, method } = body;
  const params = body.params ?? {};
  if ((typeof id !== 'string' && typeof id !== 'number') || !isObject(params) || '_meta' in params) return undefined;
  const version = req.headers['mcp-protocol-version'];
  if (typeof version !== 'string' || !LEGACY_VERSIONS.has(version)) return undefined;
  const accept = req.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return undefined;
  if (method === 'tools/list') return Object.keys(params).length === 0 ? { jsonrpc: '2.0', id, method, params } : undefined;
  if (method !== 'tools/call' || typeof params.name !== 'string') return undefined;
  if (params.arguments !== undefined && !isObject(params.arguments)) return undefined;
  if (Object.keys(params).some((key) => key !== 'name' && key !== 'arguments')) return undefined;
  return { jsonrpc: '2.0', id, method, params };
}

/**
 * The hot path of a 2025-era session: plain `tools/list` and `tools/call` answered without the
 * SDK transport, in the transport's own shape (one SSE `message` event). A `notifications/cancelled`
 * for such a call still aborts it: the session store looks the id up in `session.inflight`.
 */
export function createSessionFastPath(deps: FastPathDeps) {
  const listings = new WeakMap<InstanceView, string>();
  const listingOf = (view: InstanceView) => {
    let tools = listings.get(view);
    if (tools === undefined) listings.set(view, (tools = JSON.stringify(view.listings)));
    return tools;
  };

  function send(res: ServerResponse, session: FastSession, json: string) {
    const text = `event: message\ndata: ${json}\n\n`;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'mcp-session-id': session.id,
      'x-accel-buffering': 'no',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  return function trySessionFastPath(
    req: IncomingMessage,
    res: ServerResponse,
    instanceId: string,
    body: unknown,
    session: FastSession,
  ): boolean {
    const request = plainSessionRequest(req, body, session);
    if (request === undefined) return false;
    const view = deps.definitions.instance(instanceId);
    if (view === undefined) return false;
    const id = JSON.stringify(request.id);
    if (request.method === 'tools/list') {
      if (view.listings.length > deps.pageSize) return false;
      send(res, session, `{"result":{"tools":${listingOf(view)}},"jsonrpc":"2.0","id":${id}}`);
      return true;
    }
    const name = request.params.name as string;
    if (!view.toolsByName.has(name)) {
      send(res, session, `{"jsonrpc":"2.0","id":${id},"error":{"code":-32602,"message":${JSON.stringify(`Unknown tool: ${name}`)}}}`);
      return true;
    }
    const abort = new AbortController();
    session.inflight.set(request.id, abort);
    const requestId = req.headers['x-request-id'];
    const tag = requestCallTag(req);
    deps
      .callTool(instanceId, name, (request.params.arguments ?? {}) as Record<string, unknown>, {
        signal: abort.signal,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        caller: tag?.owner,
        lease: tag?.lease,
      })
      .then((result) => {
        // A cancelled request gets no response (MCP basic/utilities/cancellation).
        if (abort.signal.aborted) return void res.end();
        const payload = result ?? { content: [{ type: 'text', text: `Unknown tool: ${name}` }], isError: true };
        send(res, session, `{"result":${JSON.stringify(payload)},"jsonrpc":"2.0","id":${id}}`);
      })
      .catch(() => {
        if (!res.headersSent) send(res, session, `{"jsonrpc":"2.0","id":${id},"error":{"code":-32603,"message":"Internal error"}}`);
      })
      .finally(() => session.inflight.delete(request.id));
    return true;
  };
}
