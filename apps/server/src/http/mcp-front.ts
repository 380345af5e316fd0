import type { IncomingMessage, ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { LiveDefinitions } from '@dynmcp/common';
import { JsonRpcErrorCode, NO_CALL_METRICS, replyJsonRpcError, type CallMetrics, type McpGateway, type RejectionReason } from '@dynmcp/core';
import type { AuthProvider, Logger } from '@dynmcp/plugin';
import type { McpRequestTrace, McpRequestTracing } from '../tracing/gateway-tracing.js';
import type { ClientAddressResolver } from './client-address.js';
import { charsetRefusal } from './charset.js';
import type { FailureLimiter } from './failure-limiter.js';
import { checkInstanceAccess, type AccessDecision, type InstanceAccessOptions } from './mcp-auth.js';
import type { OAuthResourceSettings } from './oauth-resource.js';
import { createRequestContext, type RequestContext } from './request-context.js';

/** Options of {@link createMcpFront}. */
export interface McpFrontOptions {
  gateway: McpGateway;
  definitions: LiveDefinitions;
  authProviders: readonly AuthProvider[];
  /** Failed authentications per client address, shared with the admin API. */
  authFailures: FailureLimiter;
  clientAddress: ClientAddressResolver;
  /** Host/Origin guard; answers 403 itself and returns false. */
  guard(req: IncomingMessage, res: ServerResponse): boolean;
  bodyLimitBytes: number;
  logger: Logger;
  /** Where refusals are counted; default none. */
  metrics?: CallMetrics;
  /** Server spans of requests when tracing is on (`OTEL_*`); default none: no span, no work. */
  tracing?: McpRequestTracing;
  /** `server.publicUrl` and, when OAuth is on, its settings (see `mcp-auth.ts`). */
  publicUrl?: string;
  oauth?: OAuthResourceSettings;
}

const MCP_PATH = /^\/mcp\/([^/?#]+)\/?(?:\?.*)?$/;
const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;

/** Headers of a refusal: how to authenticate (401, 403), when to try again (429, 503). */
function refusalHeaders(access: AccessDecision & { allowed: false }): Record<string, string> {
  if (access.status === 401 || access.status === 403) return { 'www-authenticate': ('challenge' in access ? access.challenge : undefined) ?? 'Bearer' };
  if (access.status === 429 || access.status === 503) return { 'retry-after': String(access.retryAfterSeconds) };
  return {};
}

/** The reason a refusal is counted under. */
function refusalReason(access: AccessDecision & { allowed: false }): RejectionReason {
  if (access.status === 404) return 'not_found';
  if (access.status === 503) return 'not_ready';
  return 'auth';
}

/** The JSON-RPC code of a refusal: not ready yet (503) is a server error; the rest read as "not found". */
function refusalCode(access: AccessDecision & { allowed: false }): number {
  return access.status === 503 ? JsonRpcErrorCode.ServerError : JsonRpcErrorCode.NotFound;
}

/**
 * Reads a JSON body up to `limit` bytes; `undefined` for an empty body. `gone` when the body will
 * never end: the client went away, or the server's request timeout closed the connection (node
 * has already answered 408 then).
 */
function readJson(req: IncomingMessage, limit: number): Promise<{ body: unknown } | { status: 400 | 413 } | { gone: true }> {
  return new Promise((resolve) => {
    // Gone while authentication was being decided: the stream will emit nothing more.
    if (req.destroyed) return resolve({ gone: true });
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      req.resume();
      return resolve({ status: 413 });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.resume();
        return resolve({ status: 413 });
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const bytes = Buffer.concat(chunks, size);
      // JSON is UTF-8 (RFC 8259 §8.1); decoding broken bytes would put U+FFFD into arguments the
      // client never sent.
      if (!isUtf8(bytes)) return resolve({ status: 400 });
      const text = bytes.toString('utf8');
      if (text.trim() === '') return resolve({ body: undefined });
      try {
        resolve({ body: JSON.parse(text) });
      } catch {
        resolve({ status: 400 });
      }
    });
    // A client that goes away mid-body ('error' is node's "aborted", then 'close'): settle, so
    // nothing waits on a body that never ends. That is the client's doing, not a gateway fault.
    // Once destroyed, a request emits no more data, complete or not.
    const gone = () => {
      if (done) return;
      done = true;
      resolve({ gone: true });
    };
    req.on('error', gone);
    req.on('close', gone);
  });
}

/**
 * The MCP endpoints, `/mcp/<instanceId>`, served straight from node:http: they are the hot path,
 * and Express's routing and middleware would cost more CPU than everything the gateway does itself
 * on a plain call. In order: the request context shared with the admin door (request id, client
 * address, access line; `request-context.ts`), Host/Origin guard (403), Accept normalisation,
 * definitions loaded (503), failed-authentication limit, authentication and instance access
 * (429/401/404; the instance's view is resolved here, once), JSON body with the configured limit
 * (413, parse error 400), then the MCP gateway with that view. Returns false for any other path,
 * for the admin app to answer.
 */
export function createMcpFront(options: McpFrontOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const startRequest = createRequestContext({
    logger: options.logger,
    clientAddress: options.clientAddress,
    accessLevel: 'debug',
  });
  const accessOptions: InstanceAccessOptions = {
    providers: options.authProviders,
    definitions: options.definitions,
    failures: options.authFailures,
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
    ...(options.oauth === undefined ? {} : { oauth: options.oauth }),
  };
  const metrics = options.metrics ?? NO_CALL_METRICS;

  async function serve(req: IncomingMessage, res: ServerResponse, instanceId: string, context: RequestContext, trace: McpRequestTrace | undefined) {
    if (!options.guard(req, res)) return metrics.rejected('origin');
    // Streamable HTTP wants clients to accept JSON and SSE; a client that accepts anything
    // (curl's default `*/*`, or no Accept at all, as in the curl examples of the Rust project dynmcp) accepts both.
    const accept = req.headers.accept?.trim();
    if (accept === undefined || accept === '' || accept === '*/*') {
      req.headers.accept = req.method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream';
    }
    const client = context.clientAddress;
    const access = await checkInstanceAccess(accessOptions, instanceId, req.headers, client);
    if (!access.allowed) {
      metrics.rejected(refusalReason(access));
      // Why a credential was refused (an OAuth token's audience, expiry…) is for the operator only; debug, as guessing is noisy.
      // An authorization server that cannot be reached is the operator's to fix: warn, with the cause.
      if ('reason' in access && access.reason !== undefined) {
        if (access.status === 503) context.log.warn('authorization server unavailable', { instanceId, reason: access.reason });
        else context.log.debug('credentials refused', { instanceId, reason: access.reason });
      }
      req.resume();
      return replyJsonRpcError(res, access.status, refusalCode(access), access.message, refusalHeaders(access));
    }
    let body: unknown;
    if (req.method === 'POST' && JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      // Bodies are read as sent: a compressed one would otherwise be refused as broken JSON (RFC 9110 § 8.4: 415).
      const encoding = req.headers['content-encoding']?.trim().toLowerCase();
      if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
        metrics.rejected('body');
        req.resume();
        return replyJsonRpcError(res, 415, JsonRpcErrorCode.InvalidRequest, `Unsupported Content-Encoding "${encoding.slice(0, 40)}": send the body uncompressed`);
      }
      const charset = charsetRefusal(req.headers);
      if (charset !== undefined) {
        metrics.rejected('body');
        req.resume();
        return replyJsonRpcError(res, 415, JsonRpcErrorCode.InvalidRequest, `Unsupported charset: ${charset}`);
      }
      const read = await readJson(req, options.bodyLimitBytes);
      if ('gone' in read) {
        context.log.info('client went away before its request body ended', { instanceId, client });
        return void res.destroy();
      }
      if ('status' in read) {
        metrics.rejected('body');
        return read.status === 413
          ? replyJsonRpcError(res, 413, JsonRpcErrorCode.InvalidRequest, 'Request body too large')
          : replyJsonRpcError(res, 400, JsonRpcErrorCode.ParseError, 'Parse error: body is not valid JSON in UTF-8');
      }
      body = read.body;
    }
    const caller = { principal: access.principal, address: client };
    if (trace === undefined) return options.gateway.handle(req, res, access.view, body, caller);
    // Inside the request's span, the tool calls and upstream requests become its children.
    await trace.within(body, () => options.gateway.handle(req, res, access.view, body, caller));
  }

  return (req, res) => {
    const match = MCP_PATH.exec(req.url ?? '');
    if (match === null) return false;
    let instanceId: string;
    try {
      instanceId = decodeURIComponent(match[1] as string);
    } catch {
      return false;
    }
    const context = startRequest(req, res, `/mcp/${instanceId}`);
    serve(req, res, instanceId, context, options.tracing?.begin(req, res, instanceId)).catch((error: unknown) => {
      context.log.error('mcp request failed', { error: (error as Error).message, stack: (error as Error).stack });
      replyJsonRpcError(res, 500, JsonRpcErrorCode.InternalError, 'Internal error; see the gateway log');
    });
    return true;
  };
}
