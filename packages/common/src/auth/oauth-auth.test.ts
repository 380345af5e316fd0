/**
 * The `oauth` provider against a real issuer on 127.0.0.1 (node:http serving metadata and a JWKS):
 * metadata found in the OpenID Connect form for an issuer with a path, a verified token's principal,
 * what it leaves to other providers, and an issuer that cannot be reached or names another issuer
 * reading as AUTH_SERVER_UNAVAILABLE (not a token error), retried only after the cooldown.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { isGatewayError } from '@dynmcp/plugin';
import { createOAuthAuthProvider, grantedScopes } from './oauth-auth.js';
import { issuerMetadataUrls } from './oauth-issuer.js';

let server: Server;
let origin: string;
let issuer: string;
let privateKey: CryptoKey;
const hits: string[] = [];
let metadataIssuer: (issuer: string) => string = (value) => value;

before(async () => {
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/realms/mcp/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer: metadataIssuer(issuer), jwks_uri: `${origin}/realms/mcp/certs` }));
    }
    if (req.url === '/realms/mcp/certs') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ keys: [jwk] }));
    }
    return res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = `${origin}/realms/mcp`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const RESOURCE = 'https://mcp.example.com/mcp/shop';
const sign = (claims: Record<string, unknown>) =>
  new SignJWT({ iss: issuer, aud: RESOURCE, exp: Math.floor(Date.now() / 1000) + 60, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .sign(privateKey);
const request = (token: string) => ({ headers: { authorization: `Bearer ${token}` }, resource: RESOURCE });
const adminRequest = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

test('metadata URLs follow RFC 8414 and then OpenID Connect Discovery', () => {
  assert.deepEqual(issuerMetadataUrls('https://as.example/realms/mcp'), [
    'https://as.example/.well-known/oauth-authorization-server/realms/mcp',
    'https://as.example/.well-known/openid-configuration/realms/mcp',
    'https://as.example/realms/mcp/.well-known/openid-configuration',
  ]);
  assert.deepEqual(issuerMetadataUrls('https://tenant.example/'), [
    'https://tenant.example/.well-known/oauth-authorization-server',
    'https://tenant.example/.well-known/openid-configuration',
  ]);
});

test('a token of an issuer with a path verifies; its principal is its sub with the claims', async () => {
  const provider = createOAuthAuthProvider({ issuer });
  const principal = await provider.authenticate(request(await sign({ sub: 'user-1', email: 'u@example.com', scp: ['a', 'b'] })));
  assert.equal(principal?.id, 'user-1');
  assert.equal(principal?.admin, false);
  assert.deepEqual(principal?.instances, []);
  assert.equal(principal?.claims?.email, 'u@example.com');
  assert.deepEqual(grantedScopes(principal?.claims ?? {}), ['a', 'b']);
  const machine = await provider.authenticate(request(await sign({ client_id: 'ci-bot', scope: 'x y' })));
  assert.equal(machine?.id, 'ci-bot');
  assert.ok(hits.includes('/realms/mcp/.well-known/openid-configuration'));
});

test('API keys, x-api-key and non-JWT bearers are left to the next provider', async () => {
  const provider = createOAuthAuthProvider({ issuer });
  assert.equal(await provider.authenticate({ headers: { authorization: 'Bearer some-api-key' } }), undefined);
  assert.equal(await provider.authenticate({ headers: { 'x-api-key': 'k' } }), undefined);
  assert.equal(await provider.authenticate({ headers: {} }), undefined);
  // Three dotted base64url parts that are not a JWT: an API key such as `team.key.0001`.
  for (const key of ['team.key.part0001', 'adm.in.key0001', 'aaa.bbb.ccc']) {
    assert.equal(await provider.authenticate(request(key)), undefined, key);
  }
});

test('without a resource (the admin API) only the configured audiences are accepted', async () => {
  const token = await sign({ sub: 'user-1' });
  await assert.rejects(Promise.resolve(createOAuthAuthProvider({ issuer }).authenticate(adminRequest(token))), /UNAUTHORIZED|no audience/);
  const wide = createOAuthAuthProvider({ issuer, audiences: [RESOURCE] });
  assert.equal((await wide.authenticate(adminRequest(token)))?.id, 'user-1');
});

test('metadata naming another issuer, or an issuer that does not answer, is AUTH_SERVER_UNAVAILABLE, retried after the cooldown', async () => {
  metadataIssuer = () => 'https://impostor.example';
  try {
    const provider = createOAuthAuthProvider({ issuer, jwksCooldownMs: 60_000 });
    const token = await sign({ sub: 'user-1' });
    const unavailable = (error: unknown) => isGatewayError(error) && error.code === 'AUTH_SERVER_UNAVAILABLE';
    await assert.rejects(Promise.resolve(provider.authenticate(request(token))), unavailable);
    const before = hits.length;
    await assert.rejects(Promise.resolve(provider.authenticate(request(token))), unavailable);
    assert.equal(hits.length, before, 'no second discovery within the cooldown');
  } finally {
    metadataIssuer = (value) => value;
  }
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const deadIssuer = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const dead = createOAuthAuthProvider({ issuer: deadIssuer });
  await assert.rejects(Promise.resolve(dead.authenticate(request(await sign({ sub: 'x' })))), (error: unknown) => {
    assert.ok(isGatewayError(error));
    assert.equal(error.code, 'AUTH_SERVER_UNAVAILABLE');
    assert.match(error.message, new RegExp(`metadata could not be fetched from ${deadIssuer}`));
    return true;
  });
});

test('none and HS* algorithms are refused when the provider is made', () => {
  assert.throws(() => createOAuthAuthProvider({ issuer, algorithms: ['RS256', 'HS256'] }), /refuses the signing algorithms HS256/);
  assert.throws(() => createOAuthAuthProvider({ issuer: '' }), /needs an issuer/);
});

test("a token whose subject is an API key's principal id, or one of the gateway's own ids, is refused, so principals cannot be borrowed", async () => {
  const provider = createOAuthAuthProvider({ issuer, reservedIds: ['ci-bot'] });
  for (const claims of [{ sub: 'ci-bot' }, { client_id: 'ci-bot' }]) {
    await assert.rejects(
      async () => provider.authenticate(request(await sign(claims))),
      (error: unknown) => isGatewayError(error) && error.code === 'UNAUTHORIZED' && /API key's principal/.test(error.message),
    );
  }
  // The anonymous callers of a public instance are keyed `anonymous@<address>`: a token named so would share their sessions and limits.
  for (const [sub, prefix] of [['api-key:0123456789ab', 'api-key:'], ['anonymous@127.0.0.1', 'anonymous@']]) {
    await assert.rejects(
      async () => provider.authenticate(request(await sign({ sub }))),
      (error: unknown) =>
        isGatewayError(error) && error.code === 'UNAUTHORIZED' && error.message.includes(`starts with "${prefix}", which the gateway keeps for its own principal ids`),
    );
  }
  const principal = await provider.authenticate(request(await sign({ sub: 'ci-bot-2' })));
  assert.equal(principal?.id, 'ci-bot-2');
});
