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

/**
 * The built-in API-key auth provider. Keys are kept only as SHA-256 digests and compared in
 * constant time: hashing both sides first makes the comparison independent of key length
 * (`timingSafeEqual` throws on different lengths, and the length itself would leak).
 * Every configured key is compared, so the position of the matching key does not leak either.
 */
export function createApiKeyAuthProvider(keys: readonly string[]): AuthProvider {
  const digests = keys.filter((key) => key !== '').map(sha256);
  return {
    name: 'api-key',
    authenticate(request): Principal | undefined {
      const key = presentedApiKey(request);
      if (key === undefined) return undefined;
      const presented = sha256(key);
      let match = -1;
      digests.forEach((digest, index) => {
        if (timingSafeEqual(digest, presented) && match === -1) match = index;
      });
      if (match === -1) throw new GatewayError('UNAUTHORIZED', 'invalid API key');
      // Identify the key in logs by a digest prefix, never by the key.
      return { id: `api-key:${presented.toString('hex').slice(0, 12)}`, admin: true, instances: '*' };
    },
  };
}
