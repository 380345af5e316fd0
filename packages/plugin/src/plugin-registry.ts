import { GatewayError } from './errors.js';

/**
 * A named collection of one kind of extension (datasources, auth providers, tool executors).
 * Registries are created by the server at start; there are no global ones.
 */
export interface PluginRegistry<T> {
  /** Adds an entry; a second entry under the same name is refused. */
  register(name: string, entry: T): void;
  /** The entry, or `undefined`. */
  get(name: string): T | undefined;
  /** The entry, or a `GatewayError` naming the known ones. */
  require(name: string): T;
  /** Registered names, in registration order. */
  names(): string[];
}

/** Creates an empty {@link PluginRegistry}; `what` names the kind in error messages. */
export function createPluginRegistry<T>(what: string): PluginRegistry<T> {
  const entries = new Map<string, T>();
  return {
    register(name, entry) {
      if (entries.has(name)) {
        throw new GatewayError('PLUGIN_INVALID', `${what} "${name}" is registered twice`);
      }
      entries.set(name, entry);
    },
    get: (name) => entries.get(name),
    require(name) {
      const entry = entries.get(name);
      if (entry === undefined) {
        const known = [...entries.keys()].join(', ') || 'none';
        throw new GatewayError('PLUGIN_INVALID', `unknown ${what} "${name}" (registered: ${known})`);
      }
      return entry;
    },
    names: () => [...entries.keys()],
  };
}
