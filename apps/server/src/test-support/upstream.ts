import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the test upstream received. */
export interface UpstreamHit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP server on 127.0.0.1 standing in for an upstream API, recording every hit. */
export interface TestUpstream {
  url: string;
  hits: UpstreamHit[];
  close(): Promise<void>;
}

type Route = (hit: UpstreamHit, res: ServerResponse) => void;

/**
 * Starts an upstream whose answers come from `route`. The default route echoes the request as JSON.
 */
export async function startUpstream(route: Route = echo): Promise<TestUpstream> {
  const hits: UpstreamHit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const hit = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      hits.push(hit);
      route(hit, res);
    });
  });
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

/** Answers with what was asked: method, url and parsed body. */
export function echo(hit: UpstreamHit, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ method: hit.method, url: hit.url, body: hit.body === '' ? null : JSON.parse(hit.body) }));
}
