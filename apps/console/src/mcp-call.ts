// A tools/call through /mcp/<instance>, sent as an MCP client sends it: the stateless 2026-07-28
// protocol (one POST, the version in the MCP-Protocol-Version header and in `_meta`; see
// docs/mcp.md), so no session is opened. The answer is JSON, or an event stream whose last message
// with the request's id is the answer.
import { createSseParser } from './events.js';

const PROTOCOL = '2026-07-28';

export interface McpExchange {
  request: { method: 'POST'; url: string; headers: Record<string, string>; body: unknown };
  status: number;
  /** The JSON-RPC answer, or the text when it is not one. */
  response: unknown;
}

export async function callThroughMcp(key: string, instanceId: string, name: string, args: Record<string, unknown>): Promise<McpExchange> {
  const url = `/mcp/${encodeURIComponent(instanceId)}`;
  const id = Math.floor(Math.random() * 1e9);
  const body = {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name,
      arguments: args,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': PROTOCOL,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-console', version: '1' },
      },
    },
  };
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': PROTOCOL,
    'mcp-method': 'tools/call',
    'mcp-name': name,
  };
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...headers, authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
    cache: 'no-store',
  });
  const text = await response.text();
  let answer: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    createSseParser((event) => {
      try {
        const message = JSON.parse(event.data) as { id?: unknown };
        if (message.id === id) answer = message;
      } catch {
        // not JSON: keep looking
      }
    })(`${text}\n\n`);
  } else {
    try {
      answer = JSON.parse(text);
    } catch {
      // not JSON: shown as text
    }
  }
  return {
    // The key is never shown, even masked in part.
    request: { method: 'POST', url: `${window.location.origin}${url}`, headers: { ...headers, authorization: 'Bearer ***' }, body },
    status: response.status,
    response: answer,
  };
}
