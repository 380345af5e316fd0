import type { AuthProvider } from './auth.js';
import type { DataSource } from './datasource.js';
import type { ToolExecutor } from './executor.js';
import type { Logger } from './logger.js';

/**
 * The plugin API version this package describes. A plugin declares the version it was written
 * for in `apiVersion`; a gateway accepts every version from {@link MIN_PLUGIN_API_VERSION} to this
 * one and refuses, at start, any other. It goes up when the interfaces below gain something (2:
 * the optional `DataSource.batch`; 3: write metadata and the optional `DataSource.history` and
 * `DataSource.audit`; 4: the optional `DataSource.announce` and `DataSource.replicas`; 5: `Principal.claims`,
 * `ToolCallContext.caller` and `untracked` writes; 6: `ToolCallContext.cancellation`); the
 * minimum goes up only when they change incompatibly.
 */
export const PLUGIN_API_VERSION = 6;

/**
 * The oldest plugin API version a gateway still loads. A plugin for API 1 works unchanged: what
 * APIs 2 to 6 added is optional, and the features that need it say so (`requireBatch()`,
 * `requireHistory()`).
 */
export const MIN_PLUGIN_API_VERSION = 1;

/** True when a gateway providing {@link PLUGIN_API_VERSION} loads a plugin declaring `apiVersion`. */
export function isSupportedPluginApiVersion(apiVersion: number): boolean {
  return Number.isInteger(apiVersion) && apiVersion >= MIN_PLUGIN_API_VERSION && apiVersion <= PLUGIN_API_VERSION;
}

/** The options a plugin without `parseOptions` receives: the operator's object, as given. */
export type RawPluginOptions = Readonly<Record<string, unknown>>;

/** What a plugin's `create` receives. */
export interface PluginContext<O = RawPluginOptions> {
  /** A logger bound to the plugin's name. */
  logger: Logger;
  /**
   * The plugin's options from the gateway configuration (`plugins[].options`): what
   * `parseOptions` returned, or the object as given when the plugin declares no `parseOptions`.
   */
  options: O;
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

/**
 * Optional on every plugin: checks the operator's options and returns them typed, so `create`
 * works with `O` instead of an untyped record. The gateway calls it once, before `create`. It
 * throws `GatewayError('PLUGIN_INVALID')` naming the option to fix ({@link readPluginOptions}
 * does that).
 */
export interface ParsesOptions<O> {
  parseOptions?(raw: unknown): O;
}

/** A plugin that adds a datasource, selected with `datasource.type: <name>`. */
export interface DataSourcePlugin<O = RawPluginOptions> extends PluginMeta, ParsesOptions<O> {
  kind: 'datasource';
  create(context: PluginContext<O>): DataSource | Promise<DataSource>;
}

/** A plugin that adds an auth provider, enabled by listing `<name>` in `auth.providers`. */
export interface AuthPlugin<O = RawPluginOptions> extends PluginMeta, ParsesOptions<O> {
  kind: 'auth';
  create(context: PluginContext<O>): AuthProvider | Promise<AuthProvider>;
}

/** A plugin that adds a tool kind: tools with `"kind": "<executor.kind>"` are run by it. */
export interface ToolExecutorPlugin<O = RawPluginOptions> extends PluginMeta, ParsesOptions<O> {
  kind: 'tool-executor';
  create(context: PluginContext<O>): ToolExecutor | Promise<ToolExecutor>;
}

/**
 * Any DynMCP plugin, whatever its options type. A plugin package's default export is one plugin
 * or an array of them.
 */
export type DynmcpPlugin = DataSourcePlugin<unknown> | AuthPlugin<unknown> | ToolExecutorPlugin<unknown>;

/**
 * Identity helper giving a datasource plugin its type: `export default defineDataSourcePlugin({...})`.
 * With a `parseOptions`, `O` is inferred from what it returns and `create` receives that type;
 * declare `parseOptions` before `create` so the inference sees it first.
 */
export function defineDataSourcePlugin<O = RawPluginOptions>(plugin: Omit<DataSourcePlugin<O>, 'kind'>): DataSourcePlugin<O> {
  return { ...plugin, kind: 'datasource' };
}

/** Identity helper for an auth plugin (options typed as with {@link defineDataSourcePlugin}). */
export function defineAuthPlugin<O = RawPluginOptions>(plugin: Omit<AuthPlugin<O>, 'kind'>): AuthPlugin<O> {
  return { ...plugin, kind: 'auth' };
}

/** Identity helper for a tool-executor plugin (options typed as with {@link defineDataSourcePlugin}). */
export function defineToolExecutorPlugin<O = RawPluginOptions>(plugin: Omit<ToolExecutorPlugin<O>, 'kind'>): ToolExecutorPlugin<O> {
  return { ...plugin, kind: 'tool-executor' };
}

/** The options type a plugin's `create` receives. */
export type PluginOptionsOf<P> = P extends { create(context: PluginContext<infer O>): unknown } ? O : never;

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
  if (plugin.parseOptions !== undefined && typeof plugin.parseOptions !== 'function') {
    return `"${plugin.name}" has a "parseOptions" that is not a function`;
  }
  return undefined;
}
