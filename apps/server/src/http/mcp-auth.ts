import type { IncomingHttpHeaders } from 'node:http';
import type { ConfigRegistry } from '@dynmcp/common';
import { isGatewayError, mayUseInstance, type AuthProvider, type Principal } from '@dynmcp/plugin';
import { authenticate, UNAUTHORIZED_MESSAGE } from './authenticate.js';

/** The outcome of {@link checkInstanceAccess}: go on (with the principal, if any), or refuse. */
export type AccessDecision =
  | { allowed: true; principal?: Principal }
  | { allowed: false; status: 401 | 404; message: string };

/**
 * Decides whether a request may use `/mcp/<instanceId>`. A public instance is served to anyone.
 * Otherwise the caller needs a credential an auth provider accepts (401 otherwise, one message
 * whether the instance exists or not) and access to the instance (else the same 404 as an unknown
 * instance, so a principal learns nothing about instances it may not use). Before the first
 * configuration load nothing is known: the request goes on and the gateway answers 503.
 */
export async function checkInstanceAccess(
  providers: readonly AuthProvider[],
  registry: ConfigRegistry,
  instanceId: string,
  headers: IncomingHttpHeaders,
): Promise<AccessDecision> {
  const instance = registry.instance(instanceId)?.definition;
  // Checked only for an unknown instance, to keep the registry's status off the hot path.
  if (instance === undefined && !registry.status().loaded) return { allowed: true };
  if (instance?.public === true) return { allowed: true };
  let principal: Principal | undefined;
  try {
    principal = await authenticate(providers, { headers });
  } catch (error) {
    if (!isGatewayError(error) || error.code !== 'UNAUTHORIZED') throw error;
  }
  if (principal === undefined) return { allowed: false, status: 401, message: `Unauthorized: ${UNAUTHORIZED_MESSAGE}` };
  if (instance === undefined || !mayUseInstance(principal, instance)) {
    return { allowed: false, status: 404, message: `Unknown MCP instance "${instanceId}"` };
  }
  return { allowed: true, principal };
}
