import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError, type AuthProvider, type AuthRequest, type Principal } from '@dynmcp/plugin';
import { presentedBearerToken } from './oauth-auth.js';
import { apiKeyPrincipalId } from './principal-ids.js';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** Reads the key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedApiKey(request: AuthRequest): string | undefined {
  const bearer = presentedBearerToken(request);
  if (bearer !== undefined) return bearer;
  const raw = request.headers['x-api-key'];
  const apiKey = Array.isArray(raw) ? raw[0] : raw;
  return apiKey === undefined || apiKey.trim() === '' ? undefined : apiKey.trim();
}

/** A scoped key: a principal id, the key, and what it may use. */
export interface ScopedApiKey {
  id: string;
  key: string;
  /** May use the admin API (default false). */
  admin?: boolean;
  /** Instances it may use over MCP: a list of ids or "*" (default none). */
  instances?: '*' | readonly string[];
}

/** An admin key entry: the key, and the name the audit records for it when the entry gives one. */
export interface AdminKey {
  key: string;
  name?: string;
}

const ADMIN_KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MIN_NAMED_KEY_LENGTH = 8;

/**
 * Reads one `admin.apiKeys` entry. `name:key` names the key when the part before the first `:`
 * matches `^[A-Za-z0-9_.-]{1,64}$` and the rest is at least 8 characters; anything else is a plain
 * key, whole. A named entry is also accepted whole, so a plain key that happens to look like
 * `name:key` keeps working as it did (it then authenticates as that name).
 */
export function parseAdminKey(entry: string): AdminKey {
  const colon = entry.indexOf(':');
  if (colon > 0) {
    const name = entry.slice(0, colon);
    const key = entry.slice(colon + 1);
    if (ADMIN_KEY_NAME.test(name) && key.length >= MIN_NAMED_KEY_LENGTH) return { key, name };
  }
  return { key: entry };
}

/** Options of {@link createApiKeyAuthProvider}. */
export interface ApiKeyAuthOptions {
  /** Admin keys (`admin.apiKeys`, plain or `name:key`, see {@link parseAdminKey}): the admin API and every instance. */
  adminKeys: readonly string[];
  /** Scoped keys (`auth.keys`). */
  keys?: readonly ScopedApiKey[];
}

/**
 * The built-in API-key auth provider. Keys are kept only as SHA-256 digests and compared in
 * constant time: hashing both sides first makes the comparison independent of key length
 * (`timingSafeEqual` throws on different lengths, and the length itself would leak).
 * Every configured key is compared, so the position of the matching key does not leak either.
 */
export function createApiKeyAuthProvider(options: ApiKeyAuthOptions): AuthProvider {
  const admin = (id: string): Principal => ({ id, admin: true, instances: '*' });
  type Entry = { digest: Buffer; principal: Principal | undefined };
  const entries: Entry[] = [
    ...options.adminKeys
      .filter((entry) => entry !== '')
      .flatMap((entry): Entry[] => {
        const { key, name } = parseAdminKey(entry);
        if (name === undefined) return [{ digest: sha256(entry), principal: undefined }];
        return [
          { digest: sha256(key), principal: admin(name) },
          { digest: sha256(entry), principal: admin(name) },
        ];
      }),
    ...(options.keys ?? []).map((entry) => ({
      digest: sha256(entry.key),
      principal: { id: entry.id, admin: entry.admin ?? false, instances: entry.instances ?? [] } satisfies Principal,
    })),
  ];
  return {
    name: 'api-key',
    authenticate(request): Principal | undefined {
      const key = presentedApiKey(request);
      if (key === undefined) return undefined;
      const presented = sha256(key);
      let match: (typeof entries)[number] | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.digest, presented) && match === undefined) match = entry;
      }
      if (match === undefined) throw new GatewayError('UNAUTHORIZED', 'invalid API key');
      // Unnamed admin keys are identified in logs and history by a digest prefix, never by the key.
      return match.principal ?? admin(apiKeyPrincipalId(presented.toString('hex').slice(0, 12)));
    },
  };
}
