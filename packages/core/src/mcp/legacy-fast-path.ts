import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceView } from '@dynmcp/common';
import type { ToolLogLevel } from '@dynmcp/plugin';
import { Cancellation } from '../cancellation.js';
import { JsonRpcErrorCode } from './json-rpc-errors.js';
import {
  callContext,
  errorReply,
  isObject,
  replyPrefix,
  resultReply,
  unknownToolReply,
  type FastPathDeps,
  type JsonRpcRequest,
} from './fast-path.js';
import type { FastSession } from './session-store.js';
import { transportHeaderRefusal } from './transport-headers.js';

/** The 2025-era revisions whose requests the fast paths answer (the SDK validates others). */
const LEGACY_VERSIONS = new Set(['2025-11-25', '2025-06-18', '2025-03-26']);

/**
 * Encoded 2025-era `tools/list` replies up to their id, per instance view: both fast paths below
 * answer the same bytes, so they share one encoding per definitions change.
 */
const listings = new WeakMap<InstanceView, string>();

/** The encoded `tools/list` reply of a 2025-era answer up to its id. */
function listPrefix(view: InstanceView): string {
  let prefix = listings.get(view);
  if (prefix === undefined) listings.set(view, (prefix = replyPrefix({ tools: view.listings })));
  return prefix;
}

/**
 * The headers of a 2025-era answer on the request's own stream, as the SDK's Streamable HTTP
 * transport writes them (its `Connection: keep-alive` is node's default on a keep-alive socket).
 */
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' };

/**
 * Whether a session-less 2025-era POST is one the fast path answers as the SDK's stateless legacy
 * leg (`createMcpHandler`'s per-request server and transport) would: a single, well-formed
 * `tools/list` (no cursor, one page) or `tools/call` without `_meta` (so no progress token), with
 * headers the transport takes (an Accept of both JSON and SSE, a JSON Content-Type:
 * transport-headers.ts), no protocol version header or a 2025 one, and none of the 2026-07-28
 * `Mcp-Method` / `Mcp-Name` headers (the SDK classifies those). Plain curl sends exactly this (the
 * front normalises its `*\/*` Accept). Everything else, every error answer of the transport
 * included, stays with the SDK.
 */
export function isSessionlessFastRequest(req: IncomingMessage, body: unknown, view: InstanceView, pageSize: number): boolean {
  if (req.method !== 'POST') return false;
  const headers = req.headers;
  if (headers['mcp-session-id'] !== undefined || headers['mcp-method'] !== undefined || headers['mcp-name'] !== undefined) return false;
  const version = headers['mcp-protocol-version'];
  if (version !== undefined && (typeof version !== 'string' || !LEGACY_VERSIONS.has(version))) return false;
  if (transportHeaderRefusal(req) !== undefined) return false;
  const request = plainLegacyRequest(body);
  if (request === undefined) return false;
  return request.method === 'tools/call' || view.listings.length <= pageSize;
}

/**
 * `body` as a plain 2025-era `tools/list` (no params but an empty object) or `tools/call` (name,
 * optional object arguments, nothing else: no `_meta`), or `undefined`.
 */
export function plainLegacyRequest(body: unknown): JsonRpcRequest | undefined {
  if (!isObject(body) || body.jsonrpc !== '2.0') return undefined;
  const { id, method } = body;
  const params = body.params ?? {};
  if ((typeof id !== 'string' && typeof id !== 'number') || !isObject(params) || '_meta' in params) return undefined;
  if (method === 'tools/list') return Object.keys(params).length === 0 ? { jsonrpc: '2.0', id, method, params } : undefined;
  if (method !== 'tools/call' || typeof params.name !== 'string') return undefined;
  if (params.arguments !== undefined && !isObject(params.arguments)) return undefined;
  if (Object.keys(params).some((key) => key !== 'name' && key !== 'arguments')) return undefined;
  return { jsonrpc: '2.0', id, method, params };
}

/**
 * The 2025-era answer the SDK's transport writes on a request's own SSE stream: one `message`
 * event per notification the call sends (the SDK sends an executor's log messages there unless
 * the client set a log level), then the reply's event. An answer without notifications, the usual
 * case, goes out as one write with its length.
 */
class SseAnswer {
  private streaming = false;
  /**
   * Dropped once the answer is sent. The call's context keeps `log` (and so this answer) for as
   * long as anything still holds the context after the call, and the response would keep the
   * whole exchange with it (request, headers, socket buffers): measured on the session-less path,
   * that doubled the objects each garbage collection had to copy.
   */
  private res: ServerResponse | undefined;

  constructor(
    res: ServerResponse,
    private readonly sessionId?: string,
  ) {
    this.res = res;
  }

  /** Sends a `notifications/message` event now; the stream opens with the first one. */
  readonly log = (level: ToolLogLevel, data: unknown, logger?: string): void => {
    const res = this.res;
    if (res === undefined || res.writableEnded || res.destroyed) return;
    if (!this.streaming) {
      res.writeHead(200, this.headersOf(undefined));
      this.streaming = true;
    }
    // The SDK's notification, in its key order (logger dropped when absent, as JSON.stringify does).
    const json = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level, data, logger } });
    res.write(`event: message\ndata: ${json}\n\n`);
  };

  /** Sends the reply's event and ends the answer. */
  end(json: string): void {
    const res = this.res;
    if (res === undefined) return;
    this.res = undefined;
    const text = `event: message\ndata: ${json}\n\n`;
    if (!this.streaming) res.writeHead(200, this.headersOf(Buffer.byteLength(text)));
    res.end(text);
  }

  private headersOf(length: number | undefined): Record<string, string | number> {
    // Copied with Object.assign: on Node 20 a spread followed by more keys costs far more.
    const headers: Record<string, string | number> = Object.assign({}, SSE_HEADERS);
    if (this.sessionId !== undefined) headers['mcp-session-id'] = this.sessionId;
    if (length !== undefined) headers['content-length'] = length;
    return headers;
  }
}

/**
 * The hot path of session-less 2025-era requests (plain JSON-RPC POSTs, as curl or a stateless
 * client sends them): the requests {@link isSessionlessFastRequest} accepts, answered without the
 * fresh SDK server, transport and Web Request/Response conversion the SDK's stateless legacy leg
 * builds per request. The answer is that leg's: one SSE event (after any log notifications), no
 * session id. Closing the response aborts the upstream call, as the leg's teardown does.
 */
export function createSessionlessFastPath(deps: FastPathDeps) {
  /** Answers a request {@link isSessionlessFastRequest} accepted for `view`. */
  return function answerSessionless(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown): void {
    const request = body as JsonRpcRequest;
    const id = request.id;
    const answer = new SseAnswer(res);
    if (request.method === 'tools/list') return answer.end(`${listPrefix(view)}${JSON.stringify(id)}}`);
    const name = request.params?.name as string;
    const tool = view.toolsByName.get(name);
    if (tool === undefined) return answer.end(unknownToolReply(deps, id, name));
    const cancellation = new Cancellation();
    const onClose = () => {
      if (!res.writableFinished) cancellation.abort();
    };
    res.once('close', onClose);
    const context = callContext(req, cancellation);
    context.log = answer.log;
    deps
      .callTool(view.id, tool, (request.params.arguments ?? {}) as Record<string, unknown>, context)
      .then((result) => {
        if (!cancellation.aborted) answer.end(resultReply(id, result));
      })
      .catch(() => {
        if (!cancellation.aborted) answer.end(errorReply(id, JsonRpcErrorCode.InternalError, 'Internal error'));
      })
      .finally(() => res.off('close', onClose));
  };
}

/**
 * The hot path of a 2025-era session: plain `tools/list` and `tools/call` (see
 * {@link plainLegacyRequest}) with a supported protocol version header, answered without the SDK
 * transport, in the transport's own shape (SSE `message` events: log notifications, then the
 * reply). A session whose client set a log level goes through the SDK, which filters by it. A
 * `notifications/cancelled` for such a call still aborts it: the session store looks the id up in
 * `session.inflight`. The store has already refused, as the transport does, a request whose Accept
 * or Content-Type the transport would not take (transport-headers.ts).
 */
export function createSessionFastPath(deps: FastPathDeps) {
  /** Answers the request and returns true, or returns false (nothing written) for the SDK transport to answer. */
  return function trySessionFastPath(
    req: IncomingMessage,
    res: ServerResponse,
    view: InstanceView,
    body: unknown,
    session: FastSession,
  ): boolean {
    if (session.logging) return false;
    const version = req.headers['mcp-protocol-version'];
    if (typeof version !== 'string' || !LEGACY_VERSIONS.has(version)) return false;
    const request = plainLegacyRequest(body);
    if (request === undefined) return false;
    const id = request.id;
    if (request.method === 'tools/list') {
      if (view.listings.length > deps.pageSize) return false;
      new SseAnswer(res, session.id).end(`${listPrefix(view)}${JSON.stringify(id)}}`);
      return true;
    }
    const answer = new SseAnswer(res, session.id);
    const name = request.params.name as string;
    const tool = view.toolsByName.get(name);
    if (tool === undefined) {
      answer.end(unknownToolReply(deps, id, name));
      return true;
    }
    const cancellation = new Cancellation();
    session.inflight.set(id, cancellation);
    const context = callContext(req, cancellation);
    context.log = answer.log;
    deps
      .callTool(view.id, tool, (request.params.arguments ?? {}) as Record<string, unknown>, context)
      .then((result) => {
        // A cancelled request gets no response (MCP basic/utilities/cancellation).
        if (cancellation.aborted) return void res.end();
        answer.end(resultReply(id, result));
      })
      .catch(() => {
        if (!cancellation.aborted) answer.end(errorReply(id, JsonRpcErrorCode.InternalError, 'Internal error'));
      })
      .finally(() => session.inflight.delete(id));
    return true;
  };
}
