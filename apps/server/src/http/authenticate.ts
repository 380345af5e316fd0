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
