import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { GatewayError, isGatewayError, type AuthProvider, type AuthRequest, type Principal } from '@dynmcp/plugin';
import { createIssuerKeys, type FetchLike } from './oauth-issuer.js';
import { gatewayPrincipalPrefix } from './principal-ids.js';

/** Options of {@link createOAuthAuthProvider}. */
export interface OAuthAuthOptions {
  /** The authorization server's issuer URL (`auth.oauth.issuer`), compared exactly with `iss`. */
  issuer: string;
  /**
   * Audiences accepted on every request besides the request's own resource (`auth.oauth.audiences`),
   * for authorization servers that cannot issue per-resource tokens.
   */
  audiences?: readonly string[];
  /** Tolerated clock difference for `exp` and `nbf`, in seconds (default 30). */
  clockSkewSeconds?: number;
  /** Accepted JWS algorithms; asymmetric ones only (default RS256, PS256, ES256, EdDSA). */
  algorithms?: readonly string[];
  /**
   * Accept only tokens typed as JWT access tokens (`typ` `at+jwt`, RFC 9068 §4), so no other JWT
   * the issuer signs (an OpenID Connect ID token, typed `JWT` or not at all) passes for one.
   * Default `false`: many authorization servers type access tokens `JWT`; tokens that say they
   * are something else (`logout+jwt`, `secevent+jwt`…) are refused either way.
   */
  requireAccessTokenType?: boolean;
  /** Least time between two key fetches caused by unknown key ids or failures (ms, default 30 s). */
  jwksCooldownMs?: number;
  /** Longest wait for one metadata or JWKS response (ms, default 5 s). */
  timeoutMs?: number;
  /** How the issuer's metadata and keys are fetched; the global `fetch` by default. */
  fetch?: FetchLike;
  /**
   * Principal ids that belong to other providers (the API keys' ids). Principal ids share one
   * namespace: `allowed_principals`, sessions, limits and stored per-caller credentials are keyed by
   * them. A token whose subject is one of these, or starts with a prefix of the gateway's own ids
   * (`api-key:`, `anonymous@`: see principal-ids.ts), is refused, so an authorization server that
   * lets clients choose their `client_id` cannot hand a caller another principal's access,
   * credentials, sessions or limits.
   */
  reservedIds?: readonly string[];
}

const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/** A compact JWS: three base64url parts. Most API keys and opaque tokens do not look like this. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * True when `token` is a JWT: three base64url parts whose first decodes to a JOSE header naming its
 * `alg`. An API key may well be three dotted parts (`team.key.0001`); such a key must reach the
 * `api-key` provider rather than be refused here as a bad token.
 */
function isJwt(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false;
  try {
    return typeof decodeProtectedHeader(token).alg === 'string';
  } catch {
    return false;
  }
}

/**
 * The `typ` of a JOSE header as a media type's subtype, lower case, without the `application/`
 * prefix RFC 7515 §4.1.9 lets senders leave out; `undefined` when there is none.
 */
function tokenType(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.trim().toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/** The bearer token of `Authorization: Bearer <token>`, if the request has one. */
export function presentedBearerToken(request: AuthRequest): string | undefined {
  const raw = request.headers.authorization;
  const header = Array.isArray(raw) ? raw[0] : raw;
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/**
 * The scopes an access token grants: `scope` (RFC 9068 §2.2.3, RFC 8693 §4.2: space-separated),
 * or `scp` as some identity providers name it (a list or a space-separated string).
 */
export function grantedScopes(claims: Readonly<Record<string, unknown>>): string[] {
  const value = claims.scope ?? claims.scp;
  if (typeof value === 'string') return value.split(' ').filter((scope) => scope !== '');
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === 'string');
  return [];
}

/**
 * The built-in OAuth 2.1 resource-server provider (`oauth`): accepts a JWT access token in
 * `Authorization: Bearer` issued by one authorization server. Checks the signature against the
 * issuer's published keys (found through its metadata, see `oauth-issuer.ts`), the algorithm
 * against the allow-list, the header's `typ` (see {@link OAuthAuthOptions.requireAccessTokenType}),
 * `iss`, `exp` (required) and `nbf` with the clock skew, and `aud`: the
 * request's resource (RFC 8707: a token minted for another instance or service is refused) or one
 * of the configured audiences. A token bound to a key (`cnf`: DPoP or mTLS, RFC 9449 / RFC 8705) is
 * refused, since the gateway does not check the proof. Anything that is not a JWT is left to the
 * next provider.
 *
 * The principal: `sub` (the client's `client_id` when a client-credentials token has no `sub`),
 * never admin, instances from their `allowed_principals` only, and the verified payload as `claims`.
 */
export function createOAuthAuthProvider(options: OAuthAuthOptions): AuthProvider {
  if (options.issuer === '') throw new GatewayError('PLUGIN_INVALID', 'the oauth auth provider needs an issuer (auth.oauth.issuer, DYNMCP_OAUTH_ISSUER)');
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  const refused = algorithms.filter((alg) => alg === 'none' || /^HS/i.test(alg));
  if (refused.length > 0) throw new GatewayError('PLUGIN_INVALID', `the oauth auth provider refuses the signing algorithms ${refused.join(', ')}: only asymmetric ones prove the issuer signed`);
  const keys = createIssuerKeys({
    issuer: options.issuer,
    cooldownMs: options.jwksCooldownMs ?? 30_000,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const audiences = options.audiences ?? [];
  const reserved = new Set(options.reservedIds ?? []);
  const requireType = options.requireAccessTokenType === true;
  const invalid = (reason: string) => new GatewayError('UNAUTHORIZED', `invalid access token: ${reason}`);

  return {
    name: 'oauth',
    async authenticate(request): Promise<Principal | undefined> {
      const token = presentedBearerToken(request);
      if (token === undefined || !isJwt(token)) return undefined;
      const accepted = request.resource === undefined ? [...audiences] : [request.resource, ...audiences];
      if (accepted.length === 0) throw invalid('no audience is accepted here');
      let payload: Record<string, unknown>;
      let typ: unknown;
      try {
        ({ payload, protectedHeader: { typ } } = await jwtVerify(token, keys.getKey, {
          issuer: options.issuer,
          audience: accepted,
          algorithms,
          clockTolerance: options.clockSkewSeconds ?? 30,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        if (isGatewayError(error)) throw error;
        if (error instanceof joseErrors.JOSEError) throw invalid(`${error.code}: ${error.message}`);
        throw error;
      }
      const type = tokenType(typ);
      if (requireType ? type !== 'at+jwt' : type !== undefined && type !== 'jwt' && type !== 'at+jwt') {
        const said = type === undefined ? 'has no typ header' : `is typed "${String(typ)}"`;
        throw invalid(`it ${said}; ${requireType ? 'only JWT access tokens (typ at+jwt, RFC 9068) are accepted' : 'not an access token'}`);
      }
      if (payload.cnf !== undefined) throw invalid('sender-constrained tokens (cnf) are not accepted');
      const id = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : payload.client_id;
      if (typeof id !== 'string' || id === '') throw invalid('it names no subject (sub) or client (client_id)');
      if (reserved.has(id)) throw invalid(`its subject "${id}" is the id of an API key's principal`);
      const prefix = gatewayPrincipalPrefix(id);
      if (prefix !== undefined) throw invalid(`its subject "${id}" starts with "${prefix}", which the gateway keeps for its own principal ids`);
      return { id, admin: false, instances: [], claims: Object.freeze(payload) };
    },
  };
}
