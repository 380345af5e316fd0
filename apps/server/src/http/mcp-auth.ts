import type { IncomingHttpHeaders } from 'node:http';
import { presentedBearerToken, type InstanceView, type LiveDefinitions } from '@dynmcp/common';
import { missingScopes } from '@dynmcp/core';
import { isGatewayError, mayUseInstance, type AuthProvider, type Principal } from '@dynmcp/plugin';
import { authenticate } from './authenticate.js';
import { retryAfterSeconds, tooManyFailuresMessage, type FailureLimiter } from './failure-limiter.js';
import {
  insufficientScopeChallenge,
  instanceResourceUrl,
  KEY_MODE_HINT,
  resourceMetadataUrl,
  unauthorizedChallenge,
  type OAuthResourceSettings,
} from './oauth-resource.js';

/**
 * The outcome of {@link checkInstanceAccess}: go on with the instance's view (resolved once here
 * and handed to the MCP gateway) and the principal, if any; or refuse.
 */
export type AccessDecision =
  | { allowed: true; view: InstanceView; principal?: Principal }
  | { allowed: false; status: 401 | 403 | 404; message: string; challenge?: string; reason?: string }
  | { allowed: false; status: 429 | 503; message: string; retryAfterSeconds: number; reason?: string };

/** Before the first definitions load nothing is known; the answer until then (503, retry in a second). */
export const NOT_LOADED_MESSAGE = 'Definitions not loaded yet; retry shortly';

/** What {@link checkInstanceAccess} consults. */
export interface InstanceAccessOptions {
  providers: readonly AuthProvider[];
  definitions: LiveDefinitions;
  /** Failed authentications per client address, shared with the admin API. */
  failures: FailureLimiter;
  /** `server.publicUrl`: with it, providers learn the resource a request is for (`AuthRequest.resource`). */
  publicUrl?: string;
  /** OAuth on (`auth.oauth.issuer`): 401 and 403 carry challenges naming the instance's metadata. */
  oauth?: OAuthResourceSettings;
}

/** Retry-After of a 503 when the authorization server's keys could not be fetched. */
const AUTH_SERVER_RETRY_SECONDS = 5;

/** An error's message and those of its causes (`fetch failed: connect ECONNREFUSED …`), for the operator's log. */
function causeChain(error: unknown): string {
  const messages: string[] = [];
  for (let at = error, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth += 1) messages.push(at.message);
  return messages.join(': ');
}

/** The message of a 401: what to send, OAuth or key mode. */
function unauthorizedMessage(options: InstanceAccessOptions, instanceId: string): string {
  if (options.oauth === undefined) return `Unauthorized: missing or invalid credentials. ${KEY_MODE_HINT}`;
  const keys = options.providers.some((provider) => provider.name === 'api-key') ? ' (or an API key)' : '';
  return (
    `Unauthorized: send an OAuth access token for ${instanceResourceUrl(options.oauth.publicUrl, instanceId)} from ${options.oauth.issuer}${keys} ` +
    `as "Authorization: Bearer <token>"; the instance's metadata is at ${resourceMetadataUrl(options.oauth.publicUrl, instanceId)}`
  );
}

/**
 * Decides whether a request from `client` may use `/mcp/<instanceId>`. A public instance is served
 * to anyone. Otherwise an address with too many failed authentications gets 429 whatever it sends;
 * the caller needs a credential an auth provider accepts (401 otherwise, and a failure counted) and
 * access to the instance (else the same 404 as an unknown instance, so a principal learns nothing
 * about instances it may not use). 401 and 429 read the same whether the instance exists or not.
 * A token principal (one with claims) of an instance with `required_scopes` needs them all (403
 * otherwise). With OAuth on, 401 and 403 carry a `WWW-Authenticate` challenge naming the
 * instance's protected resource metadata. Before the first definitions load nothing is known: 503
 * to anyone, with Retry-After; 503 too when the authorization server's keys cannot be fetched.
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
  let reason: string | undefined;
  try {
    const resource = options.publicUrl === undefined ? undefined : instanceResourceUrl(options.publicUrl, instanceId);
    principal = await authenticate(options.providers, resource === undefined ? { headers } : { headers, resource });
  } catch (error) {
    if (isGatewayError(error) && error.code === 'AUTH_SERVER_UNAVAILABLE') {
      return {
        allowed: false,
        status: 503,
        message: `Service unavailable: ${error.message}`,
        retryAfterSeconds: AUTH_SERVER_RETRY_SECONDS,
        reason: causeChain(error),
      };
    }
    if (!isGatewayError(error) || error.code !== 'UNAUTHORIZED') throw error;
    reason = error.cause instanceof Error ? error.cause.message : undefined;
  }
  if (principal === undefined) {
    options.failures.fail(client);
    const challenge = options.oauth === undefined ? undefined : unauthorizedChallenge(options.oauth, instanceId, presentedBearerToken({ headers }) !== undefined);
    return {
      allowed: false,
      status: 401,
      message: unauthorizedMessage(options, instanceId),
      ...(challenge === undefined ? {} : { challenge }),
      ...(reason === undefined ? {} : { reason }),
    };
  }
  if (view === undefined || !mayUseInstance(principal, view.definition)) {
    return { allowed: false, status: 404, message: `Unknown MCP instance "${instanceId}"` };
  }
  // Scopes are asked of token principals only, and only once the instance is known to be theirs,
  // so a 403 tells nothing a 404 would have hidden. The MCP gateway applies this same rule
  // (servesCaller, in core's instance-access.ts) to end the sessions a definition change takes
  // from their caller.
  const missing = missingScopes(principal, view.definition);
  if (missing.length > 0) {
    const required = view.definition.required_scopes ?? [];
    return {
      allowed: false,
      status: 403,
      message: `Forbidden: the access token lacks the scopes this instance requires: ${missing.join(' ')}; get a token with the scopes ${required.join(' ')}`,
      ...(options.oauth === undefined ? {} : { challenge: insufficientScopeChallenge(options.oauth, instanceId, required) }),
    };
  }
  return { allowed: true, view, principal };
}
