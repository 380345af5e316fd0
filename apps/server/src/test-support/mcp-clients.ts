import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TEST_KEY } from './test-gateway.js';

/** Credentials of the test gateways' admin key, which may use every instance. */
export const TEST_AUTH = { authorization: `Bearer ${TEST_KEY}` } as const;

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
