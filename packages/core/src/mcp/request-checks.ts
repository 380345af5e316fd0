import type { IncomingMessage } from 'node:http';
import { TOOL_LOG_LEVELS } from '@dynmcp/plugin';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { JsonRpcErrorCode } from './json-rpc-errors.js';

/** The 2026-07-28 revision: per-request `_meta` envelope, no sessions, no batches. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/** Every protocol revision the gateway speaks, newest first. */
export const SUPPORTED_VERSIONS: readonly string[] = [MODERN_PROTOCOL_VERSION, ...SUPPORTED_PROTOCOL_VERSIONS];
const SUPPORTED = new Set(SUPPORTED_VERSIONS);

/** The revision that removed JSON-RPC batching (MCP 2025-06-18 changelog). */
const FIRST_WITHOUT_BATCHES = '2025-06-18';

/** Most messages in one JSON-RPC batch (2025-03-26 clients only; the SDK alone would take 100). */
export const MAX_BATCH_MESSAGES = 10;

/**
 * Deepest nesting of objects and arrays accepted in an MCP request body (the body itself is level
 * 1, `params` 2, `arguments` 3). Deeper bodies made validators and the SDK recurse until the stack
 * overflowed; no real tool takes arguments anywhere near this deep.
 */
export const MAX_BODY_DEPTH = 64;

/** A request refused before it is routed, answered with HTTP `status` and a JSON-RPC error. */
export interface RequestRefusal {
  status: number;
  code: number;
  message: string;
  /** The JSON-RPC id of the refused request, when it has one. */
  id: string | number | null;
  data?: Record<string, unknown>;
}

const VERSION_META = 'io.modelcontextprotocol/protocolVersion';

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Whether `params` carry the 2026-07-28 `_meta` envelope (its protocol version), as every request of that revision does. */
const carriesModernMeta = (params: unknown) => isObject(params) && isObject(params._meta) && VERSION_META in params._meta;

/** The JSON-RPC id of a single-message body, or null. */
export function requestIdOf(body: unknown): string | number | null {
  const id = isObject(body) ? body.id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/**
 * Checks what every MCP request must satisfy before any leg sees it: a supported
 * `MCP-Protocol-Version` header, the batch rules of that revision, and the nesting depth.
 * Returns the refusal to answer, or `undefined` to go on.
 */
export function checkRequest(req: IncomingMessage, body: unknown): RequestRefusal | undefined {
  const header = req.headers['mcp-protocol-version'];
  const version = Array.isArray(header) ? header.join(', ') : header;
  if (version !== undefined && !SUPPORTED.has(version)) return unsupportedVersion(version, body);
  if (body === null || typeof body !== 'object') return undefined;
  if (Array.isArray(body)) {
    const refusal = checkBatch(body, version);
    if (refusal !== undefined) return refusal;
  } else {
    const refusal = checkMessage(body, version);
    if (refusal !== undefined) return refusal;
  }
  if (nestsDeeperThan(body, MAX_BODY_DEPTH)) {
    return {
      status: 400,
      code: JsonRpcErrorCode.InvalidParams,
      message: `Invalid params: the request nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels; flatten the arguments`,
      id: requestIdOf(body),
    };
  }
  return undefined;
}

/**
 * Names every revision the gateway speaks, 2026-07-28 included (the SDK's 2025-era transports list
 * only their own). A 2026-07-28 request (it carries the `_meta` envelope) gets the revision's
 * `UnsupportedProtocolVersion` with `data.supported`; a 2025-era one the `ServerError` its transport
 * answered with.
 */
function unsupportedVersion(version: string, body: unknown): RequestRefusal {
  const requested = version.length > 64 ? `${version.slice(0, 64)}…` : version;
  const params = isObject(body) ? body.params : undefined;
  const modern = carriesModernMeta(params);
  return {
    status: 400,
    code: modern ? JsonRpcErrorCode.UnsupportedProtocolVersion : JsonRpcErrorCode.ServerError,
    message: `Bad Request: Unsupported protocol version: ${requested} (supported versions: ${SUPPORTED_VERSIONS.join(', ')})`,
    id: requestIdOf(body),
    // A request in the 2026-07-28 envelope is told the versions that envelope serves, as
    // server/discover lists them (MCP 2026-07-28 UnsupportedProtocolVersionError); the message
    // still names every version, for a client that could fall back to `initialize`.
    data: { supported: modern ? [MODERN_PROTOCOL_VERSION] : [...SUPPORTED_VERSIONS], requested },
  };
}

/**
 * JSON-RPC batches exist only in MCP 2025-03-26: refused from 2025-06-18 on (2026-07-28 included),
 * and capped below it, where each call in a batch counts against the limits like a call of its own.
 * A request without the version header is a 2025-03-26 client (later ones always send it).
 */
function checkBatch(batch: unknown[], version: string | undefined): RequestRefusal | undefined {
  if (version !== undefined && version >= FIRST_WITHOUT_BATCHES) {
    return {
      status: 400,
      code: JsonRpcErrorCode.InvalidRequest,
      message: `Invalid Request: JSON-RPC batches are not part of MCP ${version} (removed in ${FIRST_WITHOUT_BATCHES}); send one message per request`,
      id: null,
    };
  }
  if (batch.length === 0) return { status: 400, code: JsonRpcErrorCode.InvalidRequest, message: 'Invalid Request: empty JSON-RPC batch', id: null };
  if (batch.length > MAX_BATCH_MESSAGES) {
    return {
      status: 400,
      code: JsonRpcErrorCode.InvalidRequest,
      message: `Invalid Request: a JSON-RPC batch may hold at most ${MAX_BATCH_MESSAGES} messages (this one holds ${batch.length}); split it`,
      id: null,
    };
  }
  // Answers are matched to requests by id: two requests of one id would both run (a tool call
  // each) and one answer would be lost.
  const ids = new Set<unknown>();
  for (const message of batch) {
    const refusal = checkMessage(message, version);
    if (refusal !== undefined) return { ...refusal, id: null };
    const id = isObject(message) ? message.id : undefined;
    if (id === undefined || id === null) continue;
    if (ids.has(id)) {
      return {
        status: 400,
        code: JsonRpcErrorCode.InvalidRequest,
        message: `Invalid Request: two requests in the batch have the id ${JSON.stringify(id)}; give each request its own id`,
        id: null,
      };
    }
    ids.add(id);
  }
  return undefined;
}

const LOG_LEVELS: ReadonlySet<unknown> = new Set(TOOL_LOG_LEVELS);

const invalidParams = (message: string, id: string | number | null): RequestRefusal => ({
  status: 400,
  code: JsonRpcErrorCode.InvalidParams,
  message: `Invalid params: ${message}`,
  id,
});

/**
 * Checks one message's id, and the params of the requests whose malformed params the SDK would
 * answer as an internal error (-32603, with a dump of its validator's findings): `initialize`,
 * `tools/list`'s cursor, `logging/setLevel`'s level. These are the client's mistakes, answered
 * -32602 naming the field. (`tools/call` the SDK refuses as invalid params itself.) In a
 * 2026-07-28 request `initialize` and `logging/setLevel` are no methods at all, which the SDK
 * answers as such, so their params are not looked at.
 */
function checkMessage(message: unknown, version: string | undefined): RequestRefusal | undefined {
  if (!isObject(message)) return undefined;
  const { id, method, params } = message;
  const modern = version === MODERN_PROTOCOL_VERSION || carriesModernMeta(params);
  // JSON.parse reads 1e400 as Infinity, which JSON.stringify writes as null: the answer would lose its id.
  if (typeof id === 'number' && !Number.isFinite(id)) {
    return { status: 400, code: JsonRpcErrorCode.InvalidRequest, message: 'Invalid Request: a numeric id must fit a double (this one is too large)', id: null };
  }
  const requestId = typeof id === 'string' || typeof id === 'number' ? id : null;
  const given = isObject(params) ? params : {};
  switch (method) {
    case 'initialize': {
      if (modern) return undefined;
      if (typeof given.protocolVersion !== 'string') return invalidParams('"protocolVersion" must be a string, such as "2025-11-25"', requestId);
      if (!isObject(given.capabilities)) return invalidParams('"capabilities" must be an object ({} for none)', requestId);
      const info = given.clientInfo;
      if (!isObject(info) || typeof info.name !== 'string' || typeof info.version !== 'string') {
        return invalidParams('"clientInfo" must be an object with a string "name" and "version"', requestId);
      }
      return undefined;
    }
    case 'tools/list':
      if (given.cursor !== undefined && typeof given.cursor !== 'string') {
        return invalidParams('"cursor" must be a string: the "nextCursor" of the previous page, as it was given', requestId);
      }
      return undefined;
    case 'logging/setLevel':
      if (!modern && !LOG_LEVELS.has(given.level)) return invalidParams(`"level" must be one of ${TOOL_LOG_LEVELS.join(', ')}`, requestId);
      return undefined;
    default:
      return undefined;
  }
}

/**
 * Whether `value` nests objects and arrays deeper than `limit` levels. Iterative, so the check
 * itself cannot overflow the stack, and it stops at the first branch that is too deep.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const pending: object[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const node = pending.pop() as object;
    const depth = depths.pop() as number;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (let index = 0; index < node.length; index += 1) {
        const child: unknown = node[index];
        if (child !== null && typeof child === 'object') {
          pending.push(child);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    for (const key in node) {
      const child = (node as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
