// A real node:http upstream on 127.0.0.1 for tests of the http executor and of the gateway: it
// records every request it receives and answers through a route the test supplies.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the upstream received it, body read in full. */
export interface UpstreamHit {
  method: string;
  /** The raw request target, e.g. `/v1/users/42?limit=1`. */
  url: string;
  /** The target's path, still percent-encoded. */
  pathname: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** True once the TCP connection that carried this request has closed (cancellation, timeouts). */
  socketClosed(): boolean;
}

/** A running upstream. */
export interface TestUpstream {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Every request received, in order; tests may empty it (`hits.length = 0`). */
  hits: UpstreamHit[];
  close(): Promise<void>;
}

/** Answers one request; `hit` is already recorded. */
export type UpstreamRoute = (hit: UpstreamHit, res: ServerResponse) => void;

/**
 * Answers 200 with what was asked as JSON: `method`, `url`, and `body` (parsed when it is JSON,
 * the raw text otherwise, `null` when empty).
 */
export const echo: UpstreamRoute = (hit, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ method: hit.method, url: hit.url, body: hit.body === '' ? null : jsonOrText(hit.body) }));
};

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Starts an upstream on 127.0.0.1 with an ephemeral port; without `route`, it echoes. */
export async function startUpstream(route: UpstreamRoute = echo): Promise<TestUpstream> {
  const hits: UpstreamHit[] = [];
  // One listener per connection, not per request: a keep-alive connection carries many.
  const closedSockets = new WeakSet<Socket>();
  const server = createServer((req, res) => {
    const { socket } = req;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '';
      const parsed = new URL(url, 'http://upstream.invalid');
      const hit: UpstreamHit = {
        method: req.method ?? '',
        url,
        pathname: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socketClosed: () => closedSockets.has(socket),
      };
      hits.push(hit);
      route(hit, res);
    });
  });
  server.on('connection', (socket: Socket) => socket.once('close', () => closedSockets.add(socket)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
