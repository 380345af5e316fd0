import type { Principal } from './auth.js';
import type { InstanceDefinition } from './model.js';

/**
 * Whether `principal` (undefined: an anonymous caller) may use `instance` over MCP. A public
 * instance is open to everyone; otherwise the principal needs the instance in its own grant
 * (`instances`) or its id in the instance's `allowed_principals`.
 */
export function mayUseInstance(principal: Principal | undefined, instance: InstanceDefinition): boolean {
  if (instance.public === true) return true;
  if (principal === undefined) return false;
  if (principal.instances === '*' || principal.instances.includes(instance.id)) return true;
  return instance.allowed_principals?.includes(principal.id) ?? false;
}
