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
 * ids, say) gives one of `apiKeyIds`, or an id of the `api-key:` form unnamed admin keys get, would
 * take that key's instances, sessions and credentials; it is refused as an invalid credential
 * instead, and logged as a warning naming the provider and the id.
 */
export function reserveApiKeyPrincipalIds(providers: readonly AuthProvider[], apiKeyIds: readonly string[], logger: Logger): AuthProvider[] {
  const reserved = new Set(apiKeyIds);
  return providers.map((provider) => {
    if (provider.name === 'api-key') return provider;
    return {
      name: provider.name,
      async authenticate(request) {
        const principal = await provider.authenticate(request);
        if (principal !== undefined && (reserved.has(principal.id) || principal.id.startsWith('api-key:'))) {
          // A misconfigured provider, not a guessing client: the operator must hear of it.
          logger.warn("auth provider gave an API key's principal id; request refused", { provider: provider.name, principal: principal.id });
          throw new GatewayError('UNAUTHORIZED', `auth provider "${provider.name}" gave the principal id "${principal.id}", which is an API key's; refused`);
        }
        return principal;
      },
    };
  });
}
