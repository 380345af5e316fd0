/**
 * A gateway without OAuth tells OAuth clients the truth. An OAuth-capable client starts discovery on
 * any 401 (instance metadata, root metadata, authorization server metadata, then `POST /register` or
 * `POST /token` at the gateway's origin); each of these answers says the gateway takes API keys and
 * how to send one, and this test checks that the text reaches the user of real clients: the official
 * SDKs' OAuth providers (v1 and v2, interactive and client credentials), clients without OAuth, and
 * `mcp-remote` (run on Node 22 from the tools cache).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClientCredentialsProvider, Client as ModernClient, StreamableHTTPClientTransport as ModernTransport, type OAuthClientProvider } from '@modelcontextprotocol/client';
import { ClientCredentialsProvider as LegacyClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { OAuthClientProvider as LegacyOAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { mcpRemote, runTool } from '../test-support/official-tools.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { KEY_MODE_HINT } from './oauth-resource.js';

let upstream: TestUpstream;
let gw: TestGateway;
const configDir = mkdtempSync(join(tmpdir(), 'dynmcp-mcp-remote-'));

before(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({ executor: { egress: { allow: ['127.0.0.1'] } }, auth: { maxFailures: 0 } });
  const tool = { id: 'echo', name: 'echo', description: 'echo', input_schema: { type: 'object' }, tds_ext_info: { domain: upstream.url, method: 'GET', path: '/echo', ext_info: {} } };
  assert.equal((await gw.admin('PUT', '/admin/tds/echo', tool)).status, 200);
  assert.equal((await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['echo'] })).status, 200);
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
  rmSync(configDir, { recursive: true, force: true });
});

/** An interactive (authorization code) provider, as desktop clients have: it never gets to redirect here. */
function interactiveProvider(): OAuthClientProvider & LegacyOAuthClientProvider {
  const redirect = 'http://127.0.0.1:9/callback';
  return {
    redirectUrl: redirect,
    clientMetadata: { redirect_uris: [redirect], client_name: 'key-mode test' },
    clientInformation: () => undefined,
    saveClientInformation: () => undefined,
    tokens: () => undefined,
    saveTokens: () => undefined,
    redirectToAuthorization: () => assert.fail('no authorization server to redirect to'),
    saveCodeVerifier: () => undefined,
    codeVerifier: () => 'unused',
  };
}

describe('key mode: what OAuth discovery finds', () => {
  test('the 401 body says to send an API key, and how', async () => {
    const res = await fetch(`${gw.url}/mcp/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    const body = (await res.json()) as { error: { message: string } };
    assert.equal(body.error.message, `Unauthorized: missing or invalid credentials. ${KEY_MODE_HINT}`);
  });

  test('every OAuth metadata document is a JSON 404 with the same words', async () => {
    const paths = [
      '/.well-known/oauth-protected-resource/mcp/shop',
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-authorization-server',
      '/.well-known/oauth-authorization-server/mcp/shop',
      '/.well-known/openid-configuration',
      '/.well-known/openid-configuration/mcp/shop',
      '/mcp/shop/.well-known/openid-configuration',
    ];
    for (const path of paths) {
      const res = await fetch(`${gw.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.deepEqual(await res.json(), { error: 'not_found', error_description: KEY_MODE_HINT }, path);
    }
  });

  test('POST /register, POST /token and GET /authorize answer an OAuth error with the same words', async () => {
    const answers = [
      await fetch(`${gw.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris":["http://127.0.0.1:9/cb"]}' }),
      await fetch(`${gw.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' }),
      await fetch(`${gw.url}/authorize?response_type=code&client_id=x`),
    ];
    for (const res of answers) {
      assert.equal(res.status, 400, res.url);
      assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: KEY_MODE_HINT });
    }
  });
});

describe('key mode: what real clients show their user', () => {
  const url = () => new URL(`${gw.url}/mcp/shop`);
  const failure = async (connect: () => Promise<unknown>) => {
    const error = await connect().then(
      () => assert.fail('connected without a key'),
      (caught: unknown) => caught as Error,
    );
    return `${error.name}: ${error.message}`;
  };

  test('official SDK clients, with and without an OAuth provider', async () => {
    const shown = {
      v2Interactive: await failure(() => new ModernClient({ name: 't', version: '1' }).connect(new ModernTransport(url(), { authProvider: interactiveProvider() }))),
      v2ClientCredentials: await failure(() =>
        new ModernClient({ name: 't', version: '1' }).connect(
          new ModernTransport(url(), { authProvider: new ClientCredentialsProvider({ clientId: 'c', clientSecret: 's', expectedIssuer: `${gw.url}/` }) }),
        ),
      ),
      v1Interactive: await failure(() => new LegacyClient({ name: 't', version: '1' }).connect(new LegacyTransport(url(), { authProvider: interactiveProvider() }))),
      v1ClientCredentials: await failure(() =>
        new LegacyClient({ name: 't', version: '1' }).connect(
          new LegacyTransport(url(), { authProvider: new LegacyClientCredentialsProvider({ clientId: 'c', clientSecret: 's', expectedIssuer: `${gw.url}/` }) }),
        ),
      ),
      v2WithoutOAuth: await failure(() => new ModernClient({ name: 't', version: '1' }).connect(new ModernTransport(url()))),
      v1WithoutOAuth: await failure(() => new LegacyClient({ name: 't', version: '1' }).connect(new LegacyTransport(url()))),
    };
    // The hint comes through in plain words or inside the JSON the client quotes.
    const hint = /This MCP gateway does not use OAuth; it authenticates with API keys\. Configure your MCP client to send the header \\?"Authorization: Bearer <api-key>\\?"/;
    for (const [client, message] of Object.entries(shown)) assert.match(message, hint, `${client}: ${message}`);
    assert.match(shown.v1Interactive, /^InvalidRequestError: This MCP gateway/);
  });

  test('mcp-remote shows the hint when it has no key, and works with --header', { timeout: 120_000 }, async () => {
    const script = mcpRemote();
    const initialize = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } } })}\n`;
    const env = { MCP_REMOTE_CONFIG_DIR: configDir };
    const refused = await runTool(script, [`${gw.url}/mcp/shop`], { stdin: initialize, env, timeoutMs: 30_000 });
    assert.match(refused.stderr, /This MCP gateway does not use OAuth; it authenticates with API keys/, refused.stderr);
    assert.doesNotMatch(refused.stderr, /Already attempted transport fallback/);

    const listed = `${initialize}${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`;
    const served = await runTool(script, [`${gw.url}/mcp/shop`, '--header', `Authorization: Bearer ${TEST_KEY}`], { stdin: listed, env, timeoutMs: 30_000, until: /"id":2/ });
    assert.match(served.stdout, /"name":"echo"/, served.stderr);
  });
});
