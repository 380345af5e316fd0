/**
 * The gateway as an OAuth 2.1 resource server, against a real authorization server (oidc-provider on
 * 127.0.0.1, JWT access tokens for resource indicators, client credentials) and a real upstream:
 * discovery from the 401 through the instance's metadata to the issuer's; the official SDK clients'
 * OAuth support getting a token and calling a tool; refusals of wrong audience, expiry, bad
 * signature, disallowed algorithms; the JWKS fetched again for a rotated key, at most once per
 * cooldown; missing scopes (403); the token never sent upstream; API keys alongside.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ClientCredentialsProvider, Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { ClientCredentialsProvider as LegacyClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createOAuthAuthProvider } from '@dynmcp/common';
import { createRecordingLogger } from '@dynmcp/plugin';
import { freePort, startUpstream, type TestUpstream } from '@dynmcp/testing';
import { createFailureLimiter } from './failure-limiter.js';
import { checkInstanceAccess } from './mcp-auth.js';
import { startOAuthServer, type OAuthTestServer } from '../test-support/oauth-server.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const SCOPE = 'mcp:tools';
const COOLDOWN_MS = 300;
const SCOPED_KEY = 'scoped-api-key-0001';

let as: OAuthTestServer;
let upstream: TestUpstream;
let gw: TestGateway;
let base: string;

const tool = (id: string, ext: Record<string, unknown> = {}) => ({
  id,
  name: id,
  description: `tool ${id}`,
  input_schema: { type: 'object', properties: { q: { type: 'string' } } },
  tds_ext_info: { domain: upstream.url, method: 'GET', path: `/${id}`, ext_info: ext },
});

const mcp = (instance: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/mcp/${instance}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const metadataUrl = (instance: string) => `${base}/.well-known/oauth-protected-resource/mcp/${instance}`;
const now = () => Math.floor(Date.now() / 1000);

/** A token from the authorization server's token endpoint, as any OAuth client gets one. */
async function tokenFor(resource: string, scope = SCOPE): Promise<string> {
  const res = await fetch(`${as.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${as.client.clientId}:${as.client.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }),
  });
  const body = (await res.json()) as { access_token?: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.access_token as string;
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  as = await startOAuthServer({ resourcePrefix: `${base}/mcp/`, scopes: [SCOPE] });
  upstream = await startUpstream();
  gw = await startTestGateway({
    server: { port, publicUrl: base },
    auth: {
      oauth: { issuer: as.issuer, jwksCooldownMs: COOLDOWN_MS },
      keys: [{ id: 'scoped', key: SCOPED_KEY, instances: ['shop'] }],
      maxFailures: 0,
    },
    executor: { egress: { allow: ['127.0.0.1'] }, toolClaimsAllow: ['email'] },
  });
  const client = as.client.clientId;
  for (const [id, body] of Object.entries({
    echo: tool('echo'),
    whoami: tool('whoami', { headers: { 'X-Caller-Email': '${claim:email}' } }),
  })) {
    assert.equal((await gw.admin('PUT', `/admin/tds/${id}`, body)).status, 200);
  }
  for (const [id, body] of Object.entries({
    shop: { name: 'shop', tool_ids: ['echo', 'whoami'], allowed_principals: [client, 'user-1'], required_scopes: [SCOPE] },
    other: { name: 'other', tool_ids: ['echo'], allowed_principals: [client] },
    audit: { name: 'audit', tool_ids: ['echo'], allowed_principals: [client], required_scopes: [SCOPE, 'audit:read'] },
    private: { name: 'private', tool_ids: ['echo'] },
  })) {
    assert.equal((await gw.admin('PUT', `/admin/ids/${id}`, body)).status, 200);
  }
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
  await as?.close();
});

describe('OAuth resource server: discovery', () => {
  test('a 401 names the instance metadata, which names the authorization server, whose metadata names its keys', async () => {
    const res = await mcp('shop');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl('shop')}"`);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /OAuth access token for http:\/\/127\.0\.0\.1:\d+\/mcp\/shop/);

    const prm = await fetch(metadataUrl('shop'));
    assert.equal(prm.status, 200);
    assert.deepEqual(await prm.json(), {
      resource: `${base}/mcp/shop`,
      authorization_servers: [as.issuer],
      scopes_supported: [SCOPE],
      bearer_methods_supported: ['header'],
    });
    assert.equal(prm.headers.get('access-control-allow-origin'), '*', 'browser clients may read it');
    const preflight = await fetch(metadataUrl('shop'), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-headers': 'mcp-protocol-version' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    const asMetadata = (await (await fetch(`${as.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(asMetadata.issuer, as.issuer);
    assert.equal(asMetadata.jwks_uri, `${as.issuer}/jwks`);
  });

  test('unknown and private instances: the 401 reads the same, and their metadata is that of an instance without scopes', async () => {
    const texts = new Set<string>();
    for (const id of ['private', 'no-such-instance']) {
      const res = await mcp(id);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl(id)}"`);
      texts.add((await res.text()).replaceAll(id, 'X'));
      const prm = (await (await fetch(metadataUrl(id))).json()) as Record<string, unknown>;
      assert.deepEqual(prm, { resource: `${base}/mcp/${id}`, authorization_servers: [as.issuer], bearer_methods_supported: ['header'] });
    }
    assert.equal(texts.size, 1);
  });

  test('no metadata for the whole origin, and the gateway is no authorization server', async () => {
    const root = await fetch(`${base}/.well-known/oauth-protected-resource`);
    assert.equal(root.status, 404);
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 404);
      assert.match(((await res.json()) as { error_description: string }).error_description, new RegExp(`authorization server is ${as.issuer}`));
    }
    const token = await fetch(`${base}/token`, { method: 'POST', body: 'grant_type=client_credentials' });
    assert.equal(token.status, 400);
    assert.deepEqual(await token.json(), {
      error: 'invalid_request',
      error_description: `This gateway is not an authorization server: register clients and get tokens at ${as.issuer} (each instance's metadata names it).`,
    });
  });
});

describe('OAuth resource server: the official SDK clients', () => {
  test('a v2 client with ClientCredentialsProvider discovers, gets a token, lists and calls tools; the token never goes upstream', async () => {
    const provider = new ClientCredentialsProvider({ clientId: as.client.clientId, clientSecret: as.client.clientSecret, expectedIssuer: as.issuer });
    const client = new ModernClient({ name: 'oauth-test-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(`${base}/mcp/shop`), { authProvider: provider }));
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['echo', 'whoami']);
      upstream.hits.length = 0;
      const result = await client.callTool({ name: 'echo', arguments: { q: 'x' } });
      assert.notEqual(result.isError, true, JSON.stringify(result));
      const token = provider.tokens()?.access_token;
      assert.ok(token !== undefined && token.split('.').length === 3, 'a JWT access token');
      assert.equal(upstream.hits.length, 1);
      assert.equal(upstream.hits[0]?.headers.authorization, undefined, 'no Authorization upstream');
      assert.ok(!JSON.stringify(upstream.hits[0]?.headers).includes(token), 'the token in no upstream header');
    } finally {
      await client.close();
    }
  });

  test('a v1 client (2025 session) with its ClientCredentialsProvider does the same', async () => {
    const provider = new LegacyClientCredentialsProvider({ clientId: as.client.clientId, clientSecret: as.client.clientSecret, scope: SCOPE, expectedIssuer: as.issuer });
    const client = new LegacyClient({ name: 'oauth-test-v1', version: '1.0.0' });
    await client.connect(new LegacyTransport(new URL(`${base}/mcp/shop`), { authProvider: provider }));
    try {
      const result = await client.callTool({ name: 'echo', arguments: { q: 'y' } });
      assert.notEqual(result.isError, true, JSON.stringify(result));
    } finally {
      await client.close();
    }
  });

  test('${claim:email} sends the verified token claim upstream', async () => {
    const token = await as.mint({ sub: 'user-1', email: 'user-1@example.com', aud: `${base}/mcp/shop`, scope: SCOPE });
    const client = new ModernClient({ name: 'oauth-test-claims', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new ModernTransport(new URL(`${base}/mcp/shop`), { requestInit: { headers: bearer(token) } }));
    try {
      upstream.hits.length = 0;
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      assert.notEqual(result.isError, true, JSON.stringify(result));
      assert.equal(upstream.hits[0]?.headers['x-caller-email'], 'user-1@example.com');
      assert.equal(upstream.hits[0]?.headers.authorization, undefined);
    } finally {
      await client.close();
    }
  });
});

describe('OAuth resource server: refusals', () => {
  test('a token for another instance is refused: 401 invalid_token', async () => {
    const token = await tokenFor(`${base}/mcp/shop`);
    assert.equal((await mcp('shop', bearer(token))).status, 200);
    const res = await mcp('other', bearer(token));
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp\/other"$/);
  });

  test('expiry is checked with the clock skew; exp is required', async () => {
    const claims = { sub: 'user-1', aud: `${base}/mcp/shop`, scope: SCOPE };
    assert.equal((await mcp('shop', bearer(await as.mint({ ...claims, exp: now() - 10 })))).status, 200, 'within the 30 s skew');
    assert.equal((await mcp('shop', bearer(await as.mint({ ...claims, exp: now() - 120 })))).status, 401);
    assert.equal((await mcp('shop', bearer(await as.mint({ ...claims, nbf: now() + 120 })))).status, 401, 'not yet valid');
    assert.equal((await mcp('shop', bearer(await as.mint({ ...claims, exp: undefined })))).status, 401, 'no exp');
  });

  test('a bad signature, another issuer, or a disallowed algorithm is refused', async () => {
    const claims = { sub: 'user-1', aud: `${base}/mcp/shop`, scope: SCOPE };
    assert.equal((await mcp('shop', bearer(await as.mint(claims, { key: 'unpublished' })))).status, 401);
    assert.equal((await mcp('shop', bearer(await as.mint({ ...claims, iss: 'http://127.0.0.1:1' })))).status, 401);
    assert.equal((await mcp('shop', bearer(await as.mint(claims, { alg: 'RS384' })))).status, 401, 'RS384 is off the default list');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ ...claims, iss: as.issuer, exp: now() + 60 })).toString('base64url');
    assert.equal((await mcp('shop', bearer(`${header}.${payload}.sig`))).status, 401, 'alg none');
    assert.equal((await mcp('shop', bearer(await as.mint({ ...claims, cnf: { jkt: 'x' } })))).status, 401, 'sender-constrained');
  });

  test('a token typed as something other than an access token is refused; with requireAccessTokenType only at+jwt passes', async () => {
    const claims = { sub: 'user-1', aud: `${base}/mcp/shop`, scope: SCOPE };
    for (const typ of ['at+jwt', 'application/at+jwt', 'JWT', null]) {
      assert.equal((await mcp('shop', bearer(await as.mint(claims, { typ })))).status, 200, `typ ${typ}`);
    }
    for (const typ of ['logout+jwt', 'secevent+jwt', 'dpop+jwt']) {
      const res = await mcp('shop', bearer(await as.mint(claims, { typ })));
      assert.equal(res.status, 401, `typ ${typ}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
    // The strict setting, on the provider the gateway builds from auth.oauth.
    const strict = createOAuthAuthProvider({ issuer: as.issuer, requireAccessTokenType: true });
    const resource = `${base}/mcp/shop`;
    const principal = await strict.authenticate({ headers: bearer(await as.mint(claims)), resource });
    assert.equal(principal?.id, 'user-1');
    assert.equal((await strict.authenticate({ headers: bearer(await as.mint(claims, { typ: 'application/AT+JWT' })), resource }))?.id, 'user-1');
    for (const typ of ['JWT', null]) {
      await assert.rejects(
        Promise.resolve(strict.authenticate({ headers: bearer(await as.mint(claims, { typ })), resource })),
        /only JWT access tokens \(typ at\+jwt, RFC 9068\) are accepted/,
        `typ ${typ}`,
      );
    }
  });

  test('a rotated key is fetched on its unknown kid, at most once per cooldown', async () => {
    const claims = { sub: 'user-1', aud: `${base}/mcp/shop`, scope: SCOPE };
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 50));
    const before = as.jwksFetches();
    // Not published yet: the first unknown kid fetches once; more within the cooldown fetch nothing.
    const early = await as.mint(claims, { key: 'rotated' });
    for (let i = 0; i < 5; i += 1) assert.equal((await mcp('shop', bearer(early))).status, 401);
    assert.equal(as.jwksFetches() - before, 1);
    as.rotate();
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 50));
    assert.equal((await mcp('shop', bearer(await as.mint(claims, { key: 'rotated' })))).status, 200);
    assert.equal(as.jwksFetches() - before, 2);
  });

  test('a token without a scope the instance requires: 403 insufficient_scope naming every required scope', async () => {
    const token = await tokenFor(`${base}/mcp/audit`);
    const res = await mcp('audit', bearer(token));
    assert.equal(res.status, 403);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", scope="${SCOPE} audit:read", resource_metadata="${metadataUrl('audit')}"`,
    );
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /lacks the scopes this instance requires: audit:read/);
    const granted = await as.mint({ sub: as.client.clientId, aud: `${base}/mcp/audit`, scope: `${SCOPE} audit:read` });
    assert.equal((await mcp('audit', bearer(granted))).status, 200);
  });

  test('a valid token for an instance its principal may not use: the 404 of an unknown instance', async () => {
    const res = await mcp('private', bearer(await tokenFor(`${base}/mcp/private`)));
    assert.equal(res.status, 404);
    const unknown = await mcp('nothing', bearer(await as.mint({ sub: 'user-1', aud: `${base}/mcp/nothing` })));
    assert.equal((await res.text()).replace('private', 'X'), (await unknown.text()).replace('nothing', 'X'));
  });

  test('an OAuth principal is never admin', async () => {
    const res = await fetch(`${base}/admin/ids`, { headers: bearer(await tokenFor(`${base}/mcp/shop`)) });
    assert.equal(res.status, 401, 'no audience is accepted on the admin API');
  });

  test('required_scopes is checked at write time', async () => {
    for (const scopes of [['has space'], ['quote"'], [''], 'mcp:tools', [1]]) {
      const res = await gw.admin('PUT', '/admin/ids/bad', { name: 'bad', tool_ids: [], required_scopes: scopes });
      assert.equal(res.status, 400, JSON.stringify(scopes));
      assert.equal(res.body.error_code, 'INVALID_PAYLOAD');
      assert.match(res.body.error, /required_scopes/);
    }
  });
});

describe('OAuth and API keys together', () => {
  test('admin and scoped keys still open /mcp; a wrong key is a 401 with the OAuth challenge', async () => {
    assert.equal((await mcp('shop', bearer(TEST_KEY))).status, 200);
    assert.equal((await mcp('shop', { 'x-api-key': SCOPED_KEY })).status, 200);
    assert.equal((await mcp('shop', bearer(SCOPED_KEY))).status, 200, 'API keys are not asked for scopes');
    const wrong = await mcp('shop', bearer('not-a-key-at-all'));
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token".*resource_metadata=/);
    assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /\(or an API key\)/);
  });
});

/** The URL of an issuer nobody answers at: a loopback port that was just listening and is closed. */
async function deadIssuerUrl(): Promise<string> {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  return url;
}

describe('OAuth: an issuer that cannot be reached', () => {
  test('is a 503 with Retry-After, not a 401 or a 500, and counts no failure', async () => {
    const deadIssuer = await deadIssuerUrl();
    const failures = createFailureLimiter({ maxFailures: 1, windowMs: 60_000 });
    const options = { providers: [createOAuthAuthProvider({ issuer: deadIssuer })], definitions: gw.definitions, failures, publicUrl: base, oauth: { issuer: deadIssuer, publicUrl: base } };
    const token = await as.mint({ iss: deadIssuer, sub: 'user-1', aud: `${base}/mcp/shop` });
    for (let i = 0; i < 2; i += 1) {
      const decision = await checkInstanceAccess(options, 'shop', bearer(token), '192.0.2.1');
      assert.equal(decision.allowed, false);
      assert.equal(!decision.allowed && decision.status, 503);
      assert.equal(!decision.allowed && 'retryAfterSeconds' in decision && decision.retryAfterSeconds, 5);
      assert.match(!decision.allowed ? decision.message : '', /authorization server's metadata could not be fetched/);
    }
    assert.equal(failures.blockedFor('192.0.2.1'), 0);
  });

  test('the gateway log says why, with the URL and the cause; the client is told to retry', async () => {
    const deadIssuer = await deadIssuerUrl();
    const port = await freePort();
    const recording = createRecordingLogger();
    const dead = await startTestGateway({ server: { port, publicUrl: `http://127.0.0.1:${port}` }, auth: { oauth: { issuer: deadIssuer } } }, { logger: recording.logger });
    try {
      await dead.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: [], allowed_principals: ['user-1'] });
      const token = await as.mint({ iss: deadIssuer, sub: 'user-1', aud: `http://127.0.0.1:${port}/mcp/shop` });
      const res = await fetch(`${dead.url}/mcp/shop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...bearer(token) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      const line = recording.lines.find((entry) => entry.message === 'authorization server unavailable');
      assert.equal(line?.level, 'warn');
      assert.match(String(line?.meta.reason), new RegExp(`metadata could not be fetched from ${deadIssuer}.*ECONNREFUSED`));
      assert.ok(!JSON.stringify(recording.lines).includes(token), 'the token is never logged');
    } finally {
      await dead.stop();
    }
  });
});

describe('OAuth settings', () => {
  test('an issuer without server.publicUrl stops the start, naming both settings', async () => {
    await assert.rejects(startTestGateway({ auth: { oauth: { issuer: as.issuer } } }), /auth\.oauth\.issuer \(DYNMCP_OAUTH_ISSUER\) needs server\.publicUrl \(DYNMCP_PUBLIC_URL\)/);
  });

  test('auth.providers placing api-key before oauth stops the start', async () => {
    await assert.rejects(
      startTestGateway({ server: { publicUrl: base }, auth: { providers: ['api-key', 'oauth'], oauth: { issuer: as.issuer } } }),
      /lists api-key before oauth/,
    );
  });

  test('none and HS* cannot be configured as algorithms', async () => {
    for (const algorithms of [['none'], ['RS256', 'HS256'], []]) {
      await assert.rejects(startTestGateway({ server: { publicUrl: base }, auth: { oauth: { issuer: as.issuer, algorithms } } }), /auth\.oauth\.algorithms/);
    }
  });
});
