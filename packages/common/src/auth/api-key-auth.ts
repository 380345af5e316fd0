import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError, type AuthProvider, type AuthRequest, type Principal } from '@dynmcp/plugin';

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** Reads the key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedApiKey(request: AuthRequest): string | undefined {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const authorization = header('authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = header('x-api-key');
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

/** Options of {@link createApiKeyAuthProvider}. */
export interface ApiKeyAuthOptions {
  /** Admin keys (`admin.apiKeys`): the admin API and every instance. */
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
  const entries: Array<{ digest: Buffer; principal: Principal | undefined }> = [
    ...options.adminKeys.filter((key) => key !== '').map((key) => ({ digest: sha256(key), principal: undefined })),
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
      // Admin keys are identified in logs by a digest prefix, never by the key.
      return match.principal ?? { id: `api-key:${presented.toString('hex').slice(0, 12)}`, admin: true, instances: '*' };
    },
  };
}
