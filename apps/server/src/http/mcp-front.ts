import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveDefinitions } from '@dynmcp/common';
import type { McpGateway } from '@dynmcp/core';
import type { AuthProvider, Logger } from '@dynmcp/plugin';
import type { ClientAddressResolver } from './client-address.js';
import type { FailureLimiter } from './failure-limiter.js';
import { checkInstanceAccess, type AccessDecision, type InstanceAccessOptions } from './mcp-auth.js';

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
}

const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const MCP_PATH = /^\/mcp\/([^/?#]+)\/?(?:\?.*)?$/;
const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;

function replyError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}) {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

/** Headers of a refusal: how to authenticate (401), when to try again (429). */
function refusalHeaders(access: AccessDecision & { allowed: false }): Record<string, string> {
  if (access.status === 401) return { 'www-authenticate': 'Bearer' };
  if (access.status === 429) return { 'retry-after': String(access.retryAfterSeconds) };
  return {};
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
      const text = Buffer.concat(chunks, size).toString('utf8');
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
 * (research/perf.md §4a). In order: request id, Host/Origin guard (403), Accept normalisation,
 * failed-authentication limit, authentication and instance access (429/401/404), JSON body with the configured limit (413, parse
 * error 400), then the MCP gateway. Returns false for any other path, for the admin app to answer.
 */
export function createMcpFront(options: McpFrontOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const http = options.logger.child({ component: 'http' });
  const accessOptions: InstanceAccessOptions = {
    providers: options.authProviders,
    definitions: options.definitions,
    failures: options.authFailures,
  };

  async function serve(req: IncomingMessage, res: ServerResponse, instanceId: string, requestId: string) {
    if (!options.guard(req, res)) return;
    // Streamable HTTP wants clients to accept JSON and SSE; a client that accepts anything
    // (curl's default `*/*`, or no Accept at all, as in the seed's examples) accepts both.
    const accept = req.headers.accept?.trim();
    if (accept === undefined || accept === '' || accept === '*/*') {
      req.headers.accept = req.method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream';
    }
    const client = options.clientAddress.of(req);
    const access = await checkInstanceAccess(accessOptions, instanceId, req.headers, client);
    if (!access.allowed) {
      req.resume();
      return replyError(res, access.status, -32001, access.message, refusalHeaders(access));
    }
    let body: unknown;
    if (req.method === 'POST' && JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      const read = await readJson(req, options.bodyLimitBytes);
      if ('gone' in read) {
        http.info('client went away before its request body ended', { requestId, instanceId, client });
        return void res.destroy();
      }
      if ('status' in read) {
        return read.status === 413
          ? replyError(res, 413, -32600, 'Request body too large')
          : replyError(res, 400, -32700, 'Parse error: body is not valid JSON');
      }
      body = read.body;
    }
    await options.gateway.handle(req, res, instanceId, body, { principal: access.principal, address: client });
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
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    // Downstream layers (the MCP SDK's request view included) read the id from the header.
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    const started = performance.now();
    // Per-request lines are debug here: every tool call already writes its own info line, and a
    // second line per MCP request would cost the hot path a winston write.
    res.once('finish', () => {
      http.debug('request', {
        requestId,
        method: req.method,
        path: `/mcp/${instanceId}`,
        status: res.statusCode,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      });
    });
    serve(req, res, instanceId, requestId).catch((error: unknown) => {
      http.error('mcp request failed', { requestId, error: (error as Error).message, stack: (error as Error).stack });
      replyError(res, 500, -32603, 'Internal error; see the gateway log');
    });
    return true;
  };
}
