// A real OAuth 2.1 authorization server for tests: oidc-provider on 127.0.0.1, issuing JWT access
// tokens (RFC 9068) for resource indicators (RFC 8707) by the client-credentials grant. Its JWKS
// endpoint is served by this harness in front of it, so a test can rotate keys and count fetches;
// `mint` signs tokens with the same keys for the cases oidc-provider will not issue (expired, wrong
// issuer, unknown key).
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type CryptoKey } from 'jose';
import Provider from 'oidc-provider';

/** A client of the test authorization server (client credentials, `client_secret_basic`). */
export interface OAuthTestClient {
  clientId: string;
  clientSecret: string;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
}

/** A running test authorization server. */
export interface OAuthTestServer {
  /** `http://127.0.0.1:<port>`: its issuer identifier and origin. */
  issuer: string;
  client: OAuthTestClient;
  /** How many times its JWKS has been fetched. */
  jwksFetches(): number;
  /**
   * Signs a token with a published key (the one oidc-provider uses unless `key` says `rotated`),
   * or with an unpublished one (`unpublished`: a forged signature under a published `kid`).
   * Defaults: this issuer, `exp` in five minutes, `iat` now, `typ` `at+jwt` (`typ: null` leaves it out).
   */
  mint(claims: Record<string, unknown>, options?: { key?: 'current' | 'rotated' | 'unpublished'; kid?: string; alg?: string; typ?: string | null }): Promise<string>;
  /** Publishes a second signing key (`rotated`), as a key rotation does. */
  rotate(): void;
  close(): Promise<void>;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

/**
 * Starts the authorization server. `resources` says which resource indicators it issues tokens for
 * (a URL prefix, e.g. the gateway's `<url>/mcp/`) and with which scopes.
 */
export async function startOAuthServer(options: { resourcePrefix: string; scopes: string[] }): Promise<OAuthTestServer> {
  const current = await signingKey('key-1');
  const rotated = await signingKey('key-2');
  const unpublished = await signingKey('key-1');
  const published = [current.publicJwk];
  let jwksFetches = 0;
  const client = { clientId: 'gateway-test-client', clientSecret: 'a-long-test-client-secret-0123456789' };

  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: options.scopes.join(' '),
      },
    ],
    scopes: ['openid', ...options.scopes],
    jwks: { keys: [current.privateJwk] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (!resource.startsWith(options.resourcePrefix)) throw new Error(`unknown resource ${resource}`);
          return { scope: options.scopes.join(' '), accessTokenFormat: 'jwt', accessTokenTTL: 300, jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') {
      jwksFetches += 1;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: published }));
      return;
    }
    callback(req, res);
  });

  return {
    issuer,
    client,
    jwksFetches: () => jwksFetches,
    async mint(claims, mintOptions = {}) {
      const key = mintOptions.key === 'rotated' ? rotated : mintOptions.key === 'unpublished' ? unpublished : current;
      const now = Math.floor(Date.now() / 1000);
      const alg = mintOptions.alg ?? 'RS256';
      // The same RSA key under another RSA algorithm (RS384, PS256…): a token an allow-list must refuse.
      const privateKey = alg === 'RS256' ? key.privateKey : await importJWK({ ...key.privateJwk, alg }, alg);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg, kid: mintOptions.kid ?? key.kid, ...(mintOptions.typ === null ? {} : { typ: mintOptions.typ ?? 'at+jwt' }) })
        .sign(privateKey);
    },
    rotate() {
      published.push(rotated.publicJwk);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
