import { createServer, type RequestListener, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@dynmcp/plugin';
import { normaliseAddress, type ClientAddressResolver } from './client-address.js';

/** Options of {@link createHttpServer}. */
export interface HttpServerOptions {
  /** Most time to receive a whole request, headers and body (0: no limit); 408 and close after it. */
  requestTimeoutMs: number;
  /** Most time to receive the headers (0: no limit); capped at `requestTimeoutMs`, as node requires. */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between two requests. */
  keepAliveTimeoutMs: number;
  /** Most open connections from one address (0: no cap); trusted proxies are exempt. */
  maxConnectionsPerAddress: number;
  clientAddress: ClientAddressResolver;
  logger: Logger;
  /** How often at most the refusals of one address are logged (default one minute). */
  refusalLogIntervalMs?: number;
  now?: () => number;
}

/**
 * The gateway's node:http server, with the limits that keep a slow or greedy client from holding
 * connections: request and header timeouts, and a cap on open connections per client address.
 *
 * The timeouts cover receiving a request only. Once a request is in, node stops timing it, so a
 * long response (an MCP GET stream, `text/event-stream`) is never cut by them.
 */
export function createHttpServer(listener: RequestListener, options: HttpServerOptions): Server {
  const requestTimeout = options.requestTimeoutMs;
  const headersTimeout =
    requestTimeout > 0 && (options.headersTimeoutMs === 0 || options.headersTimeoutMs > requestTimeout)
      ? requestTimeout
      : options.headersTimeoutMs;
  // node checks the timeouts on a timer (30 s by default), which would let a request overrun a
  // short timeout by that much; check often enough that one runs out at most a quarter late.
  const shortest = Math.min(...[requestTimeout, headersTimeout].filter((ms) => ms > 0));
  const connectionsCheckingInterval = Number.isFinite(shortest) ? Math.max(10, Math.min(1_000, Math.floor(shortest / 4))) : 30_000;
  const server = createServer({ requestTimeout, headersTimeout, connectionsCheckingInterval }, listener);
  // node's default (5 s) closes a connection while a client is still digesting the last answer
  // (the official MCP client compiles a tools/list page's output schemas before asking for the
  // next one), so its next request fails with "other side closed". Idle time between requests
  // does not count against the header or request timeout: node starts both when a request begins.
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  if (options.maxConnectionsPerAddress > 0) capConnectionsPerAddress(server, options);
  return server;
}

/**
 * Closes a connection at once when its address already holds `maxConnectionsPerAddress`. The
 * address is the socket's: no request has been read yet, so `X-Forwarded-For` is unknown, and
 * behind a reverse proxy every client shares the proxy's address. That is why trusted proxies are
 * not capped (the proxy is the place to limit its clients). Refusals are logged at most once per
 * address per interval, with how many there were since the last line, so a flood cannot flood
 * the log.
 */
function capConnectionsPerAddress(server: Server, options: HttpServerOptions): void {
  const max = options.maxConnectionsPerAddress;
  const interval = options.refusalLogIntervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: 'http' });
  const open = new Map<string, number>();
  const refusals = new Map<string, { loggedAt: number; unlogged: number }>();

  const noteRefusal = (address: string) => {
    const entry = refusals.get(address);
    if (entry !== undefined && now() - entry.loggedAt < interval) {
      entry.unlogged += 1;
      return;
    }
    log.warn('connection refused: too many open connections from one address', {
      address,
      maxConnectionsPerAddress: max,
      refusedSinceLastLine: (entry?.unlogged ?? 0) + 1,
    });
    refusals.delete(address);
    refusals.set(address, { loggedAt: now(), unlogged: 0 });
    if (refusals.size > 10_000) refusals.delete(refusals.keys().next().value as string);
  };

  server.on('connection', (socket: Socket) => {
    // Gone before it was counted: nothing to hold.
    if (socket.remoteAddress === undefined) return;
    const address = normaliseAddress(socket.remoteAddress);
    if (options.clientAddress.isTrustedProxy(address)) return;
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      noteRefusal(address);
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
