import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import type { SessionClaims } from './session-token.js';

// The SDK (2.4) has no option that builds a transport already initialized with a given session
// id, and its state is private. So a session another replica opened is rebuilt the one way the
// SDK supports: the transport and its server go through the handshake again, here, with the
// client's own initialize as its token recorded it. That sets
// everything through public code paths: the transport's session id and initialized flag, the
// server's negotiated protocol version and the client's capabilities. Nothing reaches the client.
// session-restore.test.ts fails if an SDK upgrade changes what this relies on.

const URL_OF_REPLAY = 'http://session-restore.invalid/mcp';
const HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
/** Shown as the client's name to whatever reads it from the server (nothing in the gateway does). */
const RESTORED_CLIENT = { name: 'restored-session', version: '0' };

/**
 * Puts a fresh stateful `transport` (its `sessionIdGenerator` returning `token`), already connected
 * to its server, in the state the original session's was after `notifications/initialized`.
 * Throws when the SDK does not end up in that state.
 */
export async function restoreSession(transport: WebStandardStreamableHTTPServerTransport, token: string, claims: SessionClaims): Promise<void> {
  const initialize = {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: {
      // A version the client did not name (or named too long to carry) negotiates the newest, as it did then.
      protocolVersion: claims.protocolVersion ?? '',
      capabilities: Object.fromEntries(claims.capabilities.map((name) => [name, {}])),
      clientInfo: RESTORED_CLIENT,
    },
  };
  const answer = await transport.handleRequest(new Request(URL_OF_REPLAY, { method: 'POST', headers: HEADERS }), { parsedBody: initialize });
  // The SSE stream ends once the server has answered the initialize.
  const text = await answer.text();
  if (answer.status !== 200 || transport.sessionId !== token || !text.includes('"protocolVersion"')) {
    throw new Error(`the SDK did not accept the replayed initialize (HTTP ${answer.status})`);
  }
  const initialized = await transport.handleRequest(
    new Request(URL_OF_REPLAY, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': token } }),
    { parsedBody: { jsonrpc: '2.0', method: 'notifications/initialized' } },
  );
  if (initialized.status !== 202) throw new Error(`the SDK did not accept notifications/initialized (HTTP ${initialized.status})`);
}
