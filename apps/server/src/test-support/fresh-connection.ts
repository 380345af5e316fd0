import { request as httpRequest } from 'node:http';

/** An answer read in full; `body` parsed when it is JSON. */
export interface FreshResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/**
 * One HTTP request on a connection of its own, closed after the answer. Behind node:cluster or a
 * load balancer each connection may reach another process, so tests that must reach every worker
 * or replica cannot let a pooled keep-alive connection pin them to one.
 */
export function freshRequest(
  url: string,
  /** `socketPath`: connect to this Unix socket instead of the URL's host and port. */
  options: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutMs?: number; socketPath?: string } = {},
): Promise<FreshResponse> {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
        headers: {
          connection: 'close',
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/**
 * A stateless 2026-07-28 request (`tools/list`, `tools/call`…) to `/mcp/<instance>` on a fresh
 * connection, as the official client puts it on the wire; resolves with the JSON-RPC answer.
 */
export async function modernRequest(
  base: string,
  instance: string,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string>,
  socketPath?: string,
): Promise<FreshResponse> {
  return freshRequest(`${base}/mcp/${instance}`, {
    ...(socketPath === undefined ? {} : { socketPath }),
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(typeof params.name === 'string' ? { 'mcp-name': params.name } : {}),
      ...headers,
    },
    body: { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: MODERN_META } },
  });
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
