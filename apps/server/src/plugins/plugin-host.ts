import {
  createPluginRegistry,
  GatewayError,
  type AuthPlugin,
  type AuthProvider,
  type DataSource,
  type DataSourcePlugin,
  type DynmcpPlugin,
  type Logger,
  type PluginRegistry,
  type ToolExecutor,
  type ToolExecutorPlugin,
} from '@dynmcp/plugin';
import type { PluginEntry } from './load-plugins.js';

type Entry<P extends DynmcpPlugin> = Omit<PluginEntry, 'plugin'> & { plugin: P };

/**
 * The registries of one gateway, filled at start from the built-in plugins and the configured
 * ones alike. There are no global registries: each gateway (and each test) has its own.
 */
export interface PluginHost {
  datasources: PluginRegistry<Entry<DataSourcePlugin<unknown>>>;
  authProviders: PluginRegistry<Entry<AuthPlugin<unknown>>>;
  toolExecutors: PluginRegistry<Entry<ToolExecutorPlugin<unknown>>>;
  /** Creates the datasource `name` selects. */
  createDataSource(name: string): Promise<DataSource>;
  /** Creates the auth providers `names` list, in that order. */
  createAuthProviders(names: readonly string[]): Promise<AuthProvider[]>;
  /** Creates every tool executor, keyed by the tool kind it runs. */
  createToolExecutors(): Promise<PluginRegistry<ToolExecutor>>;
}

/** Registers `entries` (built-ins first, then loaded plugins); a second plugin of one name is refused. */
export function createPluginHost(entries: readonly PluginEntry[], logger: Logger): PluginHost {
  const datasources = createPluginRegistry<Entry<DataSourcePlugin<unknown>>>('datasource');
  const authProviders = createPluginRegistry<Entry<AuthPlugin<unknown>>>('auth provider');
  const toolExecutors = createPluginRegistry<Entry<ToolExecutorPlugin<unknown>>>('tool executor plugin');
  const sources = new Map<string, string>();
  for (const entry of entries) {
    const key = `${entry.plugin.kind}:${entry.plugin.name}`;
    const earlier = sources.get(key);
    if (earlier !== undefined) {
      throw new GatewayError(
        'PLUGIN_INVALID',
        `two ${entry.plugin.kind} plugins are named "${entry.plugin.name}" (from ${earlier} and ${entry.source}); remove one`,
      );
    }
    sources.set(key, entry.source);
    if (entry.plugin.kind === 'datasource') datasources.register(entry.plugin.name, entry as Entry<DataSourcePlugin<unknown>>);
    else if (entry.plugin.kind === 'auth') authProviders.register(entry.plugin.name, entry as Entry<AuthPlugin<unknown>>);
    else toolExecutors.register(entry.plugin.name, entry as Entry<ToolExecutorPlugin<unknown>>);
    if (entry.source !== 'built-in') {
      logger.info('plugin loaded', { plugin: entry.plugin.name, kind: entry.plugin.kind, version: entry.plugin.version, source: entry.source });
    }
  }
  // Options are parsed when the plugin is created, not when it registers: a datasource that is not
  // selected never complains about options nobody set.
  const context = (entry: Entry<DynmcpPlugin>) => ({
    logger: logger.child({ plugin: entry.plugin.name }),
    options: entry.plugin.parseOptions === undefined ? entry.options : entry.plugin.parseOptions(entry.options),
  });
  async function create<T>(entry: Entry<DynmcpPlugin>, make: () => T | Promise<T>): Promise<T> {
    try {
      return await make();
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError('PLUGIN_INVALID', `plugin "${entry.plugin.name}" (${entry.source}) failed to start: ${(error as Error).message}`, { cause: error });
    }
  }
  return {
    datasources,
    authProviders,
    toolExecutors,
    async createDataSource(name) {
      const entry = datasources.require(name);
      return create(entry, () => entry.plugin.create(context(entry)));
    },
    async createAuthProviders(names) {
      return Promise.all(
        names.map((name) => {
          const entry = authProviders.require(name);
          return create(entry, () => entry.plugin.create(context(entry)));
        }),
      );
    },
    async createToolExecutors() {
      const executors = createPluginRegistry<ToolExecutor>('tool kind');
      for (const name of toolExecutors.names()) {
        const entry = toolExecutors.require(name);
        const executor = await create(entry, () => entry.plugin.create(context(entry)));
        executors.register(executor.kind, executor);
      }
      return executors;
    },
  };
}
