import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { GatewayError } from '@dynmcp/plugin';

/** The I/O edge of {@link createIssuerKeys}: the global `fetch` unless a caller passes another. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Options of {@link createIssuerKeys}. */
export interface IssuerKeysOptions {
  /** The issuer URL, exactly as its metadata's `issuer` names it. */
  issuer: string;
  /**
   * Least time between two fetches caused by failures or unknown key ids (ms): a forged `kid`
   * cannot make the gateway fetch the issuer's keys on every request.
   */
  cooldownMs: number;
  /** Longest wait for one metadata or JWKS response (ms). */
  timeoutMs?: number;
  fetch?: FetchLike;
}

/** The issuer's signing keys, found through its metadata, for `jwtVerify`. */
export interface IssuerKeys {
  /** The key getter `jwtVerify` calls; fetches metadata and keys on first use. */
  readonly getKey: JWTVerifyGetKey;
}

const unavailable = (what: string, url: string, cause?: unknown) =>
  new GatewayError('AUTH_SERVER_UNAVAILABLE', `the authorization server's ${what} could not be fetched from ${url}; retry shortly`, { cause });

/**
 * Where an issuer's metadata may be, in the order RFC 8414 §3.1 and OpenID Connect Discovery 1.0
 * §4 give them: the well-known path inserted after the host (RFC 8414, for both documents), then
 * appended to the issuer's path (OIDC's own form; the same URL when the issuer has no path).
 */
export function issuerMetadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const at = (suffix: string) => new URL(suffix, url.origin).href;
  const urls = [
    at(`/.well-known/oauth-authorization-server${path}`),
    at(`/.well-known/openid-configuration${path}`),
    at(`${path}/.well-known/openid-configuration`),
  ];
  return [...new Set(urls)];
}

/**
 * Finds `jwks_uri` from the issuer's metadata (`/.well-known/oauth-authorization-server`, then
 * `/.well-known/openid-configuration`), then serves its keys through jose's remote key set: cached,
 * and fetched again for a token whose `kid` is unknown (a key rotation) at most once per
 * `cooldownMs`. A metadata document whose `issuer` differs from the configured one is refused
 * (RFC 8414 §3.3), so a misdirected URL cannot supply keys. Failures to reach the issuer are
 * `GatewayError('AUTH_SERVER_UNAVAILABLE')`, never a token error, and the discovery is not tried
 * again before the cooldown has passed.
 */
export function createIssuerKeys(options: IssuerKeysOptions): IssuerKeys {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 5_000;
  let keySet: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = -Infinity;

  async function getJson(url: string, what: string, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    let response: Response;
    try {
      response = await fetchImpl(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: signal ?? AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw unavailable(what, url, error);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status, body: undefined };
    }
    try {
      return { status: 200, body: JSON.parse(await response.text()) };
    } catch (error) {
      throw unavailable(what, url, error);
    }
  }

  async function discover(): Promise<JWTVerifyGetKey> {
    const urls = issuerMetadataUrls(options.issuer);
    for (const url of urls) {
      const { status, body } = await getJson(url, 'metadata');
      if (status !== 200) continue;
      const metadata = body as { issuer?: unknown; jwks_uri?: unknown } | null;
      if (metadata?.issuer !== options.issuer) {
        throw unavailable('metadata', url, new Error(`its issuer is ${JSON.stringify(metadata?.issuer)}, not ${JSON.stringify(options.issuer)}`));
      }
      if (typeof metadata.jwks_uri !== 'string' || !URL.canParse(metadata.jwks_uri)) {
        throw unavailable('metadata', url, new Error('it has no jwks_uri'));
      }
      const jwksUri = metadata.jwks_uri;
      return createRemoteJWKSet(new URL(jwksUri), {
        cooldownDuration: options.cooldownMs,
        timeoutDuration: timeoutMs,
        // The keys' own fetch, so that an unreachable or broken JWKS reads as the issuer being
        // unavailable (503) rather than as a bad token (401).
        [customFetch]: async (input: string, init: RequestInit) => {
          const { status, body } = await getJson(input, 'signing keys (JWKS)', init.signal ?? undefined);
          const keys = (body as { keys?: unknown } | undefined)?.keys;
          if (status !== 200 || !Array.isArray(keys)) throw unavailable('signing keys (JWKS)', jwksUri, new Error(`status ${status}`));
          return Response.json(body);
        },
      });
    }
    throw unavailable('metadata', urls.join(' or '), new Error('no metadata document answered 200'));
  }

  return {
    async getKey(header, token) {
      if (keySet === undefined) {
        if (performance.now() - failedAt < options.cooldownMs) throw unavailable('metadata', options.issuer);
        keySet = discover();
        keySet.catch(() => {
          keySet = undefined;
          failedAt = performance.now();
        });
      }
      const getKey = await keySet;
      return getKey(header, token);
    },
  };
}
