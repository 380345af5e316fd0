import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * 2025-era session ids as signed tokens, so that any replica sharing the secret can serve any
 * session without sticky routing: the id itself says which instance and which caller it belongs
 * to, how the client initialized, and until when it is valid.
 *
 * Shape: `v1.<payload>.<mac>`, both parts base64url; the payload is a small JSON object
 * ({@link SessionClaims} in short keys), the MAC is HMAC-SHA256 over `v1.<payload>` with the
 * session secret. Only visible ASCII, as the Streamable HTTP transport requires of session ids.
 * The caller is carried as a keyed hash of its owner key, never as a name or a credential, so a
 * session id seen in a log or a proxy tells nothing about who holds it.
 */

const VERSION = 'v1';
/** Longest token {@link verifySessionToken} reads; anything longer is not one of ours. */
export const MAX_TOKEN_LENGTH = 2048;
/** Fewest bytes of a configured session secret: the key length of HMAC-SHA256's hash. */
export const MIN_SECRET_BYTES = 32;
/** Default lifetime of a session (`mcp.sessionTtlMs`): a working day and then some. */
export const DEFAULT_SESSION_TTL_MS = 24 * 60 * 60 * 1000;
/** Longest protocol version a token carries; a longer one is left out. */
const MAX_VERSION_LENGTH = 64;
/**
 * The client capabilities a token remembers, by name (each restored as `{}`): the ones a server
 * may act on later in a 2025-era session. Others (`experimental`, extensions) are left out.
 */
const CARRIED_CAPABILITIES = new Set(['roots', 'sampling', 'elicitation']);

/** What a session token says, once verified. */
export interface SessionClaims {
  /** The instance the session was opened on (`/mcp/<instanceId>`). */
  instanceId: string;
  /** Keyed hash of the owner key of the caller that opened it (see {@link principalTag}). */
  principal: string;
  /** The protocol version the client asked for in `initialize`, when it named a short one. */
  protocolVersion: string | undefined;
  /** Which of `roots`, `sampling`, `elicitation` the client declared in `initialize`. */
  capabilities: string[];
  /** Epoch ms the session was opened. */
  issuedAt: number;
  /** Epoch ms after which the token is refused. */
  expiresAt: number;
  /** Random, unique per session: what a revocation names. */
  nonce: string;
}

/** The short keys of a token's payload (kept small: the id travels with every request). */
interface Payload {
  i: string;
  p: string;
  v?: string;
  c?: string[];
  t: number;
  e: number;
  n: string;
}

/** Signs and verifies session tokens with one secret. */
export interface SessionTokens {
  /** A new token for a session opened now on `instanceId` by `owner`, valid for the TTL. */
  issue(instanceId: string, owner: string, init: { protocolVersion?: unknown; capabilities?: unknown }): { token: string; claims: SessionClaims };
  /**
   * The claims of `token` when it is one of ours, unexpired, of `instanceId` and of `owner`;
   * `undefined` for anything else (tampered, expired, another instance, another caller, another
   * secret, garbage), so every such id is the same unknown session to the caller.
   */
  verify(token: string, instanceId: string, owner: string): SessionClaims | undefined;
}

/** Options of {@link createSessionTokens}. */
export interface SessionTokenOptions {
  /** The HMAC key; at least {@link MIN_SECRET_BYTES} bytes. */
  secret: Uint8Array;
  /** How long a session lasts from its initialize. */
  ttlMs: number;
  now?: () => number;
}

/** A random secret for one process: its tokens are valid only in that process. */
export function randomSessionSecret(): Buffer {
  return randomBytes(MIN_SECRET_BYTES);
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** Creates the signer and verifier of session tokens for one secret. */
export function createSessionTokens(options: SessionTokenOptions): SessionTokens {
  if (options.secret.length < MIN_SECRET_BYTES) throw new RangeError(`the session secret must have at least ${MIN_SECRET_BYTES} bytes`);
  if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1) throw new RangeError('the session TTL must be a positive integer of milliseconds');
  const key = Buffer.from(options.secret);
  const now = options.now ?? Date.now;
  const mac = (text: string) => createHmac('sha256', key).update(text).digest();

  /**
   * The principal as a token carries it: a keyed hash, so neither the owner's name nor anything
   * it could be guessed from appears in the id; 16 bytes keep collisions out of reach.
   */
  function principalTag(owner: string): string {
    return base64url(mac(`principal\u0000${owner}`).subarray(0, 16));
  }

  return {
    issue(instanceId, owner, init) {
      const issuedAt = now();
      const payload: Payload = { i: instanceId, p: principalTag(owner), t: issuedAt, e: issuedAt + options.ttlMs, n: base64url(randomBytes(16)) };
      const version = init.protocolVersion;
      if (typeof version === 'string' && version.length <= MAX_VERSION_LENGTH) payload.v = version;
      const declared = init.capabilities;
      if (declared !== null && typeof declared === 'object' && !Array.isArray(declared)) {
        const names = Object.keys(declared).filter((name) => CARRIED_CAPABILITIES.has(name));
        if (names.length > 0) payload.c = names;
      }
      const signed = `${VERSION}.${base64url(Buffer.from(JSON.stringify(payload)))}`;
      const token = `${signed}.${base64url(mac(signed))}`;
      return { token, claims: claimsOf(payload) };
    },

    verify(token, instanceId, owner) {
      if (token.length > MAX_TOKEN_LENGTH) return undefined;
      const last = token.lastIndexOf('.');
      const signed = token.slice(0, last);
      if (last < 0 || !signed.startsWith(`${VERSION}.`)) return undefined;
      const presented = Buffer.from(token.slice(last + 1), 'base64url');
      const expected = mac(signed);
      // Constant time: how much of a forged MAC matched must not show in the answer's timing.
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return undefined;
      let payload: Payload;
      try {
        payload = JSON.parse(Buffer.from(signed.slice(VERSION.length + 1), 'base64url').toString('utf8')) as Payload;
      } catch {
        return undefined; // only a token signed with our secret gets here, so this never happens
      }
      if (payload.i !== instanceId || payload.e <= now()) return undefined;
      const tag = Buffer.from(principalTag(owner));
      const carried = Buffer.from(String(payload.p));
      if (tag.length !== carried.length || !timingSafeEqual(tag, carried)) return undefined;
      return claimsOf(payload);
    },
  };
}

function claimsOf(payload: Payload): SessionClaims {
  return {
    instanceId: payload.i,
    principal: payload.p,
    protocolVersion: payload.v,
    capabilities: payload.c ?? [],
    issuedAt: payload.t,
    expiresAt: payload.e,
    nonce: payload.n,
  };
}
