import { gatewayPrincipalPrefix } from '@dynmcp/common';
import { GatewayError, isGatewayError, type AuthProvider, type AuthRequest, type Logger, type Principal } from '@dynmcp/plugin';

/** The one message of every failed authentication, whatever failed, so failures look alike. */
export const UNAUTHORIZED_MESSAGE = 'missing or invalid credentials; send Authorization: Bearer <key> or x-api-key: <key>';

/**
 * Asks the auth providers in order; the first that recognises the request decides. Resolves with
 * the principal, or `undefined` when no provider recognised a credential. A provider that rejects a
 * credential ends the chain with `GatewayError('UNAUTHORIZED')`.
 */
export async function authenticate(providers: readonly AuthProvider[], request: AuthRequest): Promise<Principal | undefined> {
  for (const provider of providers) {
    try {
      const principal = await provider.authenticate(request);
      if (principal !== undefined) return principal;
    } catch (error) {
      if (isGatewayError(error) && (error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN')) {
        // The provider's own reason stays as the cause: for the log, never for the client.
        throw new GatewayError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE, { cause: error });
      }
      throw error;
    }
  }
  return undefined;
}

/**
 * `providers` with the API keys' principal ids kept to the `api-key` provider. Principal ids share
 * one namespace: `allowed_principals`, sessions, per-caller limits and stored per-caller
 * credentials are keyed by them. A principal another provider (a plugin that maps its users to
 * ids, say) gives one of `apiKeyIds`, or an id of the gateway's own forms (`api-key:` for unnamed
 * admin keys, `anonymous@` for callers without credentials), would take that key's instances,
 * sessions and credentials, or an address's anonymous sessions and limits; it is refused as an
 * invalid credential instead, and logged as a warning naming the provider and the id.
 */
export function reserveApiKeyPrincipalIds(providers: readonly AuthProvider[], apiKeyIds: readonly string[], logger: Logger): AuthProvider[] {
  const reserved = new Set(apiKeyIds);
  return providers.map((provider) => {
    if (provider.name === 'api-key') return provider;
    return {
      name: provider.name,
      async authenticate(request) {
        const principal = await provider.authenticate(request);
        if (principal === undefined) return undefined;
        const prefix = gatewayPrincipalPrefix(principal.id);
        if (reserved.has(principal.id) || prefix !== undefined) {
          // A misconfigured provider, not a guessing client: the operator must hear of it.
          logger.warn('auth provider gave a principal id kept for API keys or anonymous callers; request refused', { provider: provider.name, principal: principal.id });
          const whose = prefix === undefined ? "an API key's" : `kept for the gateway's own ids (${prefix}…)`;
          throw new GatewayError('UNAUTHORIZED', `auth provider "${provider.name}" gave the principal id "${principal.id}", which is ${whose}; refused`);
        }
        return principal;
      },
    };
  });
}
