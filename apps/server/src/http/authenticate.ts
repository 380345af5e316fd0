import { GatewayError, isGatewayError, type AuthProvider, type AuthRequest, type Principal } from '@dynmcp/plugin';

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
 * ids, say) gives one of `apiKeyIds`, or an id of the `api-key:` form unnamed admin keys get, would
 * take that key's instances, sessions and credentials; it is refused as an invalid credential
 * instead, the reason kept for the log.
 */
export function reserveApiKeyPrincipalIds(providers: readonly AuthProvider[], apiKeyIds: readonly string[]): AuthProvider[] {
  const reserved = new Set(apiKeyIds);
  return providers.map((provider) => {
    if (provider.name === 'api-key') return provider;
    return {
      name: provider.name,
      async authenticate(request) {
        const principal = await provider.authenticate(request);
        if (principal !== undefined && (reserved.has(principal.id) || principal.id.startsWith('api-key:'))) {
          throw new GatewayError('UNAUTHORIZED', `auth provider "${provider.name}" gave the principal id "${principal.id}", which is an API key's; refused`);
        }
        return principal;
      },
    };
  });
}
