import { grantedScopes } from '@dynmcp/common';
import { mayUseInstance, type InstanceDefinition, type Principal } from '@dynmcp/plugin';

/**
 * The scopes of the instance's `required_scopes` that the caller's access token does not grant.
 * Only token principals (those with claims) are asked for scopes; an API key or an anonymous
 * caller misses none.
 */
export function missingScopes(principal: Principal | undefined, instance: InstanceDefinition): string[] {
  const required = instance.required_scopes;
  if (required === undefined || required.length === 0 || principal?.claims === undefined) return [];
  const granted = grantedScopes(principal.claims);
  return required.filter((scope) => !granted.includes(scope));
}

/**
 * Whether `instance` serves `principal` (`undefined`: an anonymous caller): the rule of the HTTP
 * front's access check (apps/server/src/http/mcp-auth.ts), which refuses everything else. A public
 * instance serves anyone; any other one a principal that may use it (`mayUseInstance`: its own
 * grant, or its id in `allowed_principals`) and whose token grants the required scopes. A session
 * whose caller this stops holding for ends at the definition change (session-store.ts).
 */
export function servesCaller(principal: Principal | undefined, instance: InstanceDefinition): boolean {
  if (instance.public === true) return true;
  return mayUseInstance(principal, instance) && missingScopes(principal, instance).length === 0;
}
