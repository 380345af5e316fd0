import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostHeaderValidation, originValidation } from '@modelcontextprotocol/node';

/** Options of {@link createRequestGuards}. */
export interface RequestGuardOptions {
  /** The address the gateway listens on. */
  listenHost: string;
  /** Host header names accepted; empty: localhost names on a loopback bind, anything otherwise. */
  allowedHosts: readonly string[];
  /** Origin hostnames accepted besides localhost ones. */
  allowedOrigins: readonly string[];
}

const LOCALHOST_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** True when `host` is a loopback address or name. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/**
 * The DNS-rebinding and cross-origin guards in front of every MCP endpoint (MCP 2025-11-25
 * transports §security: invalid Origin → 403). Both answer 403 themselves and return false.
 * A request without an Origin header (every non-browser client) passes the Origin check.
 */
export function createRequestGuards(options: RequestGuardOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const hosts =
    options.allowedHosts.length > 0
      ? [...options.allowedHosts]
      : isLoopbackHost(options.listenHost)
        ? LOCALHOST_NAMES
        : undefined;
  const checkHost = hosts ? remembered(hostHeaderValidation(hosts), (req) => req.headers.host) : () => true;
  const checkOrigin = originValidation([...LOCALHOST_NAMES, ...options.allowedOrigins]);
  return (req, res) => checkHost(req, res) && checkOrigin(req, res);
}

/** Most accepted header values a guard remembers; beyond, it starts over (ports make many). */
const REMEMBERED_VALUES = 256;

/**
 * A guard that skips `check` for a header value it already accepted: the SDK's check parses the
 * value as a URL on every request, which is a visible share of a plain call's CPU. Only accepted
 * values are remembered, so a refusal is always the SDK's own answer, and the same value always
 * gets the same decision.
 */
function remembered(
  check: (req: IncomingMessage, res: ServerResponse) => boolean,
  valueOf: (req: IncomingMessage) => string | undefined,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const accepted = new Set<string>();
  return (req, res) => {
    const value = valueOf(req);
    if (value !== undefined && accepted.has(value)) return true;
    if (!check(req, res)) return false;
    if (value !== undefined) {
      if (accepted.size >= REMEMBERED_VALUES) accepted.clear();
      accepted.add(value);
    }
    return true;
  };
}
