// MCP requests exactly as the official clients put them on the wire (captured from
// @modelcontextprotocol/client 2.4 pinned to 2026-07-28, and @modelcontextprotocol/sdk 1.32 for
// 2025-11-25), pre-serialised for the load generator. Every request carries a unique JSON-RPC id.
import { httpRequest } from './loadgen.mjs';

export const MODERN_VERSION = '2026-07-28';
export const LEGACY_VERSION = '2025-11-25';

const CLIENT_INFO = { name: 'dynmcp-bench', version: '1.0.0' };

/** The per-request `_meta` envelope of 2026-07-28 (SEP-2575): version, client info, capabilities. */
const MODERN_META = JSON.stringify({
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
  'io.modelcontextprotocol/clientCapabilities': {},
});

const ACCEPT = 'application/json, text/event-stream';

/** A 2026-07-28 `tools/call` of the item tool; the item id varies with the sequence number. */
export function modernToolsCall({ port, path, tool = 'get_item' }) {
  const host = `127.0.0.1:${port}`;
  const headers = {
    'Content-Type': 'application/json',
    Accept: ACCEPT,
    'MCP-Protocol-Version': MODERN_VERSION,
    'Mcp-Method': 'tools/call',
    'Mcp-Name': tool,
  };
  return (seq) =>
    httpRequest('POST', path, {
      host,
      headers,
      body: `{"jsonrpc":"2.0","id":${seq},"method":"tools/call","params":{"name":"${tool}","arguments":{"path":{"id":${seq % 1000}}},"_meta":${MODERN_META}}}`,
    });
}

/** A 2026-07-28 `tools/list`. */
export function modernToolsList({ port, path }) {
  const host = `127.0.0.1:${port}`;
  const headers = { 'Content-Type': 'application/json', Accept: ACCEPT, 'MCP-Protocol-Version': MODERN_VERSION, 'Mcp-Method': 'tools/list' };
  return (seq) =>
    httpRequest('POST', path, { host, headers, body: `{"jsonrpc":"2.0","id":${seq},"method":"tools/list","params":{"_meta":${MODERN_META}}}` });
}

/**
 * A 2025-era `tools/call`. With a session (`state.sessionId`, set by the load generator's setup
 * per connection) it carries `Mcp-Session-Id`; without one it is a session-less POST, which a
 * stateless instance answers on its own.
 */
export function legacyToolsCall({ port, path, tool = 'get_item' }) {
  const host = `127.0.0.1:${port}`;
  return (seq, state) =>
    httpRequest('POST', path, {
      host,
      headers: {
        'Content-Type': 'application/json',
        Accept: ACCEPT,
        'MCP-Protocol-Version': LEGACY_VERSION,
        ...(state?.sessionId ? { 'Mcp-Session-Id': state.sessionId } : {}),
      },
      body: `{"jsonrpc":"2.0","id":${seq},"method":"tools/call","params":{"name":"${tool}","arguments":{"path":{"id":${seq % 1000}}}}}`,
    });
}

/**
 * Opens a 2025-era session the way the v1 client does: `initialize`, then
 * `notifications/initialized`. No GET notification stream is opened (an idle client need not).
 */
export async function openLegacySession(url) {
  const headers = { 'content-type': 'application/json', accept: ACCEPT };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: CLIENT_INFO },
    }),
  });
  const text = await init.text();
  const sessionId = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !sessionId) throw new Error(`initialize → ${init.status} ${text.slice(0, 200)}`);
  const done = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-protocol-version': LEGACY_VERSION, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await done.arrayBuffer();
  if (done.status !== 202) throw new Error(`notifications/initialized → ${done.status}`);
  return sessionId;
}

const RESULT = Buffer.from('"result"');
const IS_ERROR = Buffer.from('"isError":true');
const TOOLS = Buffer.from('"tools"');

/** Accepts a JSON-RPC success whose tool result is not an error (JSON or one SSE event). */
export function checkToolResult(status, body) {
  if (status !== 200) return 'status';
  if (body.indexOf(RESULT) < 0) return 'no result';
  if (body.indexOf(IS_ERROR) >= 0) return 'tool error';
  return undefined;
}

/** Accepts a tools/list result. */
export function checkToolsList(status, body) {
  if (status !== 200) return 'status';
  if (body.indexOf(TOOLS) < 0) return 'no tools';
  return undefined;
}

/** Accepts any 200 answer (baselines). */
export function check200(status) {
  return status === 200 ? undefined : 'status';
}

/** One request over fetch, for sanity checks before a load run: returns the parsed JSON-RPC message. */
export async function sendOnce(port, path, requestBuffer) {
  const text = requestBuffer.toString('utf8');
  const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
  const headers = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    if (['host', 'connection', 'content-length'].includes(name)) continue;
    headers[name] = line.slice(i + 1).trim();
  }
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers, body });
  const raw = await res.text();
  const json = raw.startsWith('event:') || raw.startsWith('data:') ? raw.split('\n').find((l) => l.startsWith('data:'))?.slice(5) : raw;
  return { status: res.status, message: json ? JSON.parse(json) : undefined, bytes: Buffer.byteLength(raw) };
}
