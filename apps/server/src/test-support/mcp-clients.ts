import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { TEST_KEY } from './test-gateway.js';

/** Credentials of the test gateways' admin key, which may use every instance. */
export const TEST_AUTH = { authorization: `Bearer ${TEST_KEY}` } as const;

/** Headers of a raw JSON-RPC POST in the 2025-era session `sessionId`, with the admin key. */
export const sessionHeaders = (sessionId: string) => ({
  ...TEST_AUTH,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
  'mcp-session-id': sessionId,
});

/** A 2025-era client: the v1 SDK's `Client` over Streamable HTTP (initialize, sessions). */
export async function connectLegacy(url: string, headers: Record<string, string> = TEST_AUTH) {
  const client = new LegacyClient({ name: 'dynmcp-test-v1', version: '1.0.0' });
  const transport = new LegacyTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

/** A 2026-07-28 client: the v2 SDK's `Client` pinned to the modern era (stateless, server/discover). */
export async function connectModern(url: string, headers: Record<string, string> = TEST_AUTH) {
  const client = new ModernClient(
    { name: 'dynmcp-test-v2', version: '2.0.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const transport = new ModernTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

/**
 * A v1 client (2025 session, GET stream) and a v2 client (2026-07-28, `subscriptions/listen`) on
 * one instance, counting the `notifications/tools/list_changed` each receives. Resolves once both
 * streams are open.
 */
export async function watchToolChanges(url: string, headers: Record<string, string> = TEST_AUTH) {
  const legacy = await connectLegacy(url, headers);
  const modern = await connectModern(url, headers);
  const counts = { legacy: 0, modern: 0 };
  legacy.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    counts.legacy += 1;
  });
  modern.client.setNotificationHandler('notifications/tools/list_changed', async () => {
    counts.modern += 1;
  });
  const subscription = await modern.client.listen({ toolsListChanged: true });
  // The v1 client opens its GET stream after initialize, asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    legacy,
    modern,
    counts,
    async close() {
      await subscription.close();
      await legacy.client.close();
      await modern.client.close();
    },
  };
}
