import type { IncomingMessage } from 'node:http';
import type { ServedTool } from '@dynmcp/common';
import { MODERN_PROTOCOL_VERSION } from './request-checks.js';

/** How a tool call ended, as its log line names it. */
export const CALL_OUTCOMES = ['ok', 'error', 'invalid_arguments', 'cancelled', 'result_too_large', 'no_executor', 'failed'] as const;
/** One of {@link CALL_OUTCOMES}. */
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/** MCP methods counted by name; every other method (or none: GET, DELETE) counts as `other`. */
export const MCP_METHODS = [
  'initialize',
  'notifications/initialized',
  'ping',
  'tools/list',
  'tools/call',
  'server/discover',
  'subscriptions/listen',
  'logging/setLevel',
  'notifications/cancelled',
  'other',
] as const;
/** One of {@link MCP_METHODS}. */
export type McpMethod = (typeof MCP_METHODS)[number];

/** The protocol generations a request can speak (see the glossary of docs/architecture.md). */
export const MCP_ERAS = ['2025', '2026-07-28'] as const;
/** One of {@link MCP_ERAS}. */
export type McpEra = (typeof MCP_ERAS)[number];

/**
 * Why the gateway refused something before or instead of calling an upstream: `auth` (401, or 429
 * after too many failed authentications), `not_found` (unknown or forbidden instance), `not_ready`
 * (definitions not loaded), `origin` (Host/Origin guard), `body` (too large or not JSON),
 * `protocol` (request checks: version, batch, depth), `limits` (call limits), `unknown_tool`,
 * `validation` (arguments against the input schema), `egress` (egress policy).
 */
export const REJECTION_REASONS = [
  'auth',
  'not_found',
  'not_ready',
  'origin',
  'body',
  'protocol',
  'limits',
  'unknown_tool',
  'validation',
  'egress',
] as const;
/** One of {@link REJECTION_REASONS}. */
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** The instruments of one tool served by one instance, resolved once and kept while the tool is unchanged. */
export interface ToolCallMetrics {
  /** One finished call: how it ended, how long it took, and the upstream's status if one answered. */
  called(outcome: CallOutcome, seconds: number, upstreamStatus: number | undefined): void;
}

/**
 * Where the MCP layer reports what it did. Every label value comes from a definition that exists
 * (the tool the route found in the instance's view) or from the fixed sets above, never from what
 * a caller sent, so a caller cannot create series. The server implements it with prom-client;
 * {@link NO_CALL_METRICS} is the default, and tests pass their own.
 */
export interface CallMetrics {
  /**
   * The instruments of `tool` as served by `instanceId`. Called once per tool version and
   * instance: the tool caller caches the answer on the {@link ServedTool}, which a definitions change
   * replaces. Series are labelled with the name the instance serves the tool under.
   */
  tool(instanceId: string, tool: ServedTool): ToolCallMetrics;
  /** One MCP message that reached the gateway (each message of a batch counts). */
  request(method: McpMethod, era: McpEra): void;
  /** One refusal. */
  rejected(reason: RejectionReason): void;
}

const NO_TOOL_METRICS: ToolCallMetrics = { called: () => undefined };

/** Metrics that record nothing. */
export const NO_CALL_METRICS: CallMetrics = {
  tool: () => NO_TOOL_METRICS,
  request: () => undefined,
  rejected: () => undefined,
};

const COUNTED_METHODS: ReadonlySet<string> = new Set(MCP_METHODS);
const VERSION_META = 'io.modelcontextprotocol/protocolVersion';

/** The {@link McpMethod} of one message: its method when that is one of the fixed set, else `other`. */
export function methodOf(message: unknown): McpMethod {
  const method = message !== null && typeof message === 'object' ? (message as { method?: unknown }).method : undefined;
  return typeof method === 'string' && COUNTED_METHODS.has(method) ? (method as McpMethod) : 'other';
}

/**
 * The era of a request: 2026-07-28 when its `MCP-Protocol-Version` header or its message's `_meta`
 * names that revision, 2025 otherwise.
 */
export function eraOf(req: IncomingMessage, body: unknown): McpEra {
  if (req.headers['mcp-protocol-version'] === MODERN_PROTOCOL_VERSION) return '2026-07-28';
  const params = body !== null && typeof body === 'object' ? (body as { params?: unknown }).params : undefined;
  const meta = params !== null && typeof params === 'object' ? (params as { _meta?: unknown })._meta : undefined;
  const version = meta !== null && typeof meta === 'object' ? (meta as Record<string, unknown>)[VERSION_META] : undefined;
  return version === MODERN_PROTOCOL_VERSION ? '2026-07-28' : '2025';
}

/** Counts the messages of one request: one for a single message or none (GET, DELETE), each of a batch. */
export function countRequest(metrics: CallMetrics, req: IncomingMessage, body: unknown): void {
  const era = eraOf(req, body);
  if (!Array.isArray(body)) return metrics.request(methodOf(body), era);
  for (const message of body) metrics.request(methodOf(message), era);
}
