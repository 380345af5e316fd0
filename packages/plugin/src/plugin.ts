import type { AuthProvider } from './auth.js';
import type { DataSource } from './datasource.js';
import type { ToolExecutor } from './executor.js';
import type { Logger } from './logger.js';

/**
 * The plugin API version this package describes. A plugin declares the version it was written
 * for in `apiVersion`; a gateway refuses, at start, a plugin whose version it does not provide.
 * It changes only when the interfaces below change incompatibly.
 */
export const PLUGIN_API_VERSION = 1;

/** What a plugin's `create` receives. */
export interface PluginContext {
  /** A logger bound to the plugin's name. */
  logger: Logger;
  /** The plugin's options from the gateway configuration (`plugins[].options`), as given. */
  options: Readonly<Record<string, unknown>>;
}

/** What every plugin declares. */
export interface PluginMeta {
  /** Unique name; for datasources and auth providers also the name configuration selects it by. */
  name: string;
  /** The plugin's own version, for logs. */
  version: string;
  /** The plugin API version it needs ({@link PLUGIN_API_VERSION} when it was built). */
  apiVersion: number;
}

/** A plugin that adds a datasource, selected with `datasource.type: <name>`. */
export interface DataSourcePlugin extends PluginMeta {
  kind: 'datasource';
  create(context: PluginContext): DataSource | Promise<DataSource>;
}

/** A plugin that adds an auth provider, enabled by listing `<name>` in `auth.providers`. */
export interface AuthPlugin extends PluginMeta {
  kind: 'auth';
  create(context: PluginContext): AuthProvider | Promise<AuthProvider>;
}

/** A plugin that adds a tool kind: tools with `"kind": "<executor.kind>"` are run by it. */
export interface ToolExecutorPlugin extends PluginMeta {
  kind: 'tool-executor';
  create(context: PluginContext): ToolExecutor | Promise<ToolExecutor>;
}

/** Any DynMCP plugin. A plugin package's default export is one plugin or an array of them. */
export type DynmcpPlugin = DataSourcePlugin | AuthPlugin | ToolExecutorPlugin;

/** Identity helper giving a datasource plugin its type: `export default defineDataSourcePlugin({...})`. */
export function defineDataSourcePlugin(plugin: Omit<DataSourcePlugin, 'kind'>): DataSourcePlugin {
  return { ...plugin, kind: 'datasource' };
}

/** Identity helper for an auth plugin. */
export function defineAuthPlugin(plugin: Omit<AuthPlugin, 'kind'>): AuthPlugin {
  return { ...plugin, kind: 'auth' };
}

/** Identity helper for a tool-executor plugin. */
export function defineToolExecutorPlugin(plugin: Omit<ToolExecutorPlugin, 'kind'>): ToolExecutorPlugin {
  return { ...plugin, kind: 'tool-executor' };
}

const KINDS = ['datasource', 'auth', 'tool-executor'] as const;

/**
 * Checks that `value` has the shape of a plugin; returns what is wrong, or `undefined`. Used by
 * the gateway on everything it loads, and by plugin authors in their own tests.
 */
export function checkPluginShape(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return 'is not an object';
  const plugin = value as Record<string, unknown>;
  if (typeof plugin.name !== 'string' || !/^[A-Za-z0-9@/._-]{1,128}$/.test(plugin.name)) return 'has no valid "name"';
  if (typeof plugin.version !== 'string' || plugin.version === '') return `"${plugin.name}" has no "version"`;
  if (typeof plugin.apiVersion !== 'number' || !Number.isInteger(plugin.apiVersion)) {
    return `"${plugin.name}" has no integer "apiVersion"`;
  }
  if (!KINDS.includes(plugin.kind as (typeof KINDS)[number])) {
    return `"${plugin.name}" has kind ${JSON.stringify(plugin.kind)}; expected one of ${KINDS.join(', ')}`;
  }
  if (typeof plugin.create !== 'function') return `"${plugin.name}" has no create() function`;
  return undefined;
}
