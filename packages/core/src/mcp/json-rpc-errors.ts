import { ProtocolErrorCode } from '@modelcontextprotocol/server';

/**
 * Every JSON-RPC error code the gateway answers with, by name. Codes the SDK names keep the SDK's
 * name and value; the two from JSON-RPC's implementation-defined server range (-32000 to -32099)
 * are the gateway's own, and the same ones the SDK's Streamable HTTP transport uses for the same
 * situations, so clients see one code per situation whichever route answered.
 */
export const JsonRpcErrorCode = {
  /** The body is not valid JSON (HTTP 400). */
  ParseError: ProtocolErrorCode.ParseError,
  /** Not a request this gateway takes: a body over the size limit, or a refused or oversized batch. */
  InvalidRequest: ProtocolErrorCode.InvalidRequest,
  /** Well-formed request with bad parameters: an unknown tool, a cursor the gateway did not make. */
  InvalidParams: ProtocolErrorCode.InvalidParams,
  /** The gateway itself failed; the details are in its log, never in the answer. */
  InternalError: ProtocolErrorCode.InternalError,
  /** A 2026-07-28 request naming a protocol version the gateway does not speak (`data.supported`). */
  UnsupportedProtocolVersion: ProtocolErrorCode.UnsupportedProtocolVersion,
  /**
   * A refusal that is not about the request's shape: not ready yet (503), a rate, concurrency or
   * session limit (429/503), a missing `Mcp-Session-Id`, a 2025-era protocol version mismatch.
   */
  ServerError: -32000,
  /** No such instance or session for this caller: unknown, gone, or not allowed (401/404/429 on /mcp). */
  NotFound: -32001,
} as const;

/** One of the codes of {@link JsonRpcErrorCode}. */
export type JsonRpcErrorCode = (typeof JsonRpcErrorCode)[keyof typeof JsonRpcErrorCode];
