import type { IncomingMessage, ServerResponse } from 'node:http';
import { isJsonContentType } from '@modelcontextprotocol/server';
import { JsonRpcErrorCode } from './json-rpc-errors.js';
import { replyJsonRpc } from './json-rpc-reply.js';

/** A 2025-era request the SDK's Streamable HTTP transport refuses for its headers alone. */
export interface TransportHeaderRefusal {
  status: 406 | 415;
  code: typeof JsonRpcErrorCode.ServerError;
  message: string;
}

const NOT_ACCEPTABLE_POST: TransportHeaderRefusal = {
  status: 406,
  code: JsonRpcErrorCode.ServerError,
  message: 'Not Acceptable: Client must accept both application/json and text/event-stream',
};
const NOT_ACCEPTABLE_GET: TransportHeaderRefusal = {
  status: 406,
  code: JsonRpcErrorCode.ServerError,
  message: 'Not Acceptable: Client must accept text/event-stream',
};
const UNSUPPORTED_MEDIA_TYPE: TransportHeaderRefusal = {
  status: 415,
  code: JsonRpcErrorCode.ServerError,
  message: 'Unsupported Media Type: Content-Type must be application/json',
};

/**
 * What the SDK's Streamable HTTP transport (`WebStandardStreamableHTTPServerTransport`, which
 * serves 2025-era sessions and the stateless legacy leg) answers before it reads anything else: a
 * POST whose Accept lacks `application/json` or `text/event-stream` is 406, then one whose
 * Content-Type is not `application/json` is 415; a GET whose Accept lacks `text/event-stream` is
 * 406. `undefined`: the transport goes on. Its substring tests are the transport's own (the front
 * has already turned a missing or `*\/*` Accept into both types). The 2026-07-28 leg asks none of
 * this of Accept. Every gateway route that answers 2025-era requests without the transport asks
 * this first, so such a request gets the transport's refusal, and nothing else happens for it,
 * whichever route it lands on; transport-headers.test.ts holds the answers to the SDK's.
 */
export function transportHeaderRefusal(req: IncomingMessage): TransportHeaderRefusal | undefined {
  const accept = req.headers.accept ?? '';
  if (req.method === 'GET') return accept.includes('text/event-stream') ? undefined : NOT_ACCEPTABLE_GET;
  if (req.method !== 'POST') return undefined;
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return NOT_ACCEPTABLE_POST;
  return isJsonContentType(req.headers['content-type']) ? undefined : UNSUPPORTED_MEDIA_TYPE;
}

/** Answers `refusal` as the transport writes it: the same status and bytes (its key order, no id). */
export function replyTransportRefusal(res: ServerResponse, refusal: TransportHeaderRefusal): void {
  replyJsonRpc(res, refusal.status, { jsonrpc: '2.0', error: { code: refusal.code, message: refusal.message }, id: null });
}
