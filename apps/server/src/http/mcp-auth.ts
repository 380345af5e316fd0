import type { IncomingHttpHeaders } from 'node:http';
import type { InstanceView, LiveDefinitions } from '@dynmcp/common';
import { isGatewayError, mayUseInstance, type AuthProvider, type Principal } from '@dynmcp/plugin';
import { authenticate, UNAUTHORIZED_MESSAGE } from './authenticate.js';
import { retryAfterSeconds, tooManyFailuresMessage, type FailureLimiter } from './failure-limiter.js';

/**
 * The outcome of {@link checkInstanceAccess}: go on with the instance's view (resolved once here
 * and handed to the MCP gateway) and the principal, if any; or refuse.
 */
export type AccessDecision =
  | { allowed: true; view: InstanceView; principal?: Principal }
  | { allowed: false; status: 401 | 404; message: string }
  | { allowed: false; status: 429 | 503; message: string; retryAfterSeconds: number };

/** Before the first definitions load nothing is known; the answer until then (503, retry in a second). */
export const NOT_LOADED_MESSAGE = 'Definitions not loaded yet; retry shortly';

/** What {@link checkInstanceAccess} consults. */
export interface InstanceAccessOptions {
  providers: readonly AuthProvider[];
  definitions: LiveDefinitions;
  /** Failed authentications per client address, shared with the admin API. */
  failures: FailureLimiter;
}

/**
 * Decides whether a request from `client` may use `/mcp/<instanceId>`. A public instance is served
 * to anyone. Otherwise an address with too many failed authentications gets 429 whatever it sends;
 * the caller needs a credential an auth provider accepts (401 otherwise, and a failure counted) and
 * access to the instance (else the same 404 as an unknown instance, so a principal learns nothing
 * about instances it may not use). 401 and 429 read the same whether the instance exists or not.
 * Before the first definitions load nothing is known: 503 to anyone, with Retry-After.
 */
export async function checkInstanceAccess(
  options: InstanceAccessOptions,
  instanceId: string,
  headers: IncomingHttpHeaders,
  client: string,
): Promise<AccessDecision> {
  const view = options.definitions.instance(instanceId);
  // Checked only for an unknown instance, to keep the live definitions' status off the hot path.
  if (view === undefined && !options.definitions.status().loaded) {
    return { allowed: false, status: 503, message: NOT_LOADED_MESSAGE, retryAfterSeconds: 1 };
  }
  if (view?.definition.public === true) return { allowed: true, view };
  const waitMs = options.failures.blockedFor(client);
  if (waitMs > 0) {
    const retryAfter = retryAfterSeconds(waitMs);
    return { allowed: false, status: 429, message: `Too many requests: ${tooManyFailuresMessage(retryAfter)}`, retryAfterSeconds: retryAfter };
  }
  let principal: Principal | undefined;
  try {
    principal = await authenticate(options.providers, { headers });
  } catch (error) {
    if (!isGatewayError(error) || error.code !== 'UNAUTHORIZED') throw error;
  }
  if (principal === undefined) {
    options.failures.fail(client);
    return { allowed: false, status: 401, message: `Unauthorized: ${UNAUTHORIZED_MESSAGE}` };
  }
  if (view === undefined || !mayUseInstance(principal, view.definition)) {
    return { allowed: false, status: 404, message: `Unknown MCP instance "${instanceId}"` };
  }
  return { allowed: true, view, principal };
}
