import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  checkPluginShape,
  GatewayError,
  isSupportedPluginApiVersion,
  MIN_PLUGIN_API_VERSION,
  PLUGIN_API_VERSION,
  type DynmcpPlugin,
} from '@dynmcp/plugin';

/** One configured plugin: the module to load and the options it gets. */
export interface PluginSpec {
  /** An npm package name (resolved from `cwd`'s node_modules) or a path to a module file. */
  module: string;
  options?: Record<string, unknown>;
}

/**
 * A plugin ready to register: the plugin, its options (as configured; the plugin's `parseOptions`
 * checks them), and where it came from (for messages).
 */
export interface PluginEntry {
  plugin: DynmcpPlugin;
  options: unknown;
  source: string;
}

const refuse = (message: string, cause?: unknown) => new GatewayError('PLUGIN_INVALID', message, { cause });

/** Resolves a plugin module to a file URL: a path relative to `cwd`, or a package installed there. */
function resolveModule(module: string, cwd: string): string {
  if (module.startsWith('.') || isAbsolute(module)) return pathToFileURL(resolve(cwd, module)).href;
  try {
    // Resolved as an operator's `npm install <plugin>` in the working directory would see it.
    return pathToFileURL(createRequire(join(cwd, 'package.json')).resolve(module)).href;
  } catch (error) {
    throw refuse(`plugin "${module}" is not installed: run "npm install ${module}" in ${cwd}, or give a path`, error);
  }
}

/**
 * Loads the configured plugins: `import()`s each module (no scanning of node_modules), takes its
 * default export (one plugin or an array of them), checks the shape and the plugin API version.
 * Any problem stops the start with an error naming the module.
 */
export async function loadPlugins(specs: readonly PluginSpec[], cwd: string): Promise<PluginEntry[]> {
  const entries: PluginEntry[] = [];
  for (const spec of specs) {
    const url = resolveModule(spec.module, cwd);
    let loaded: Record<string, unknown>;
    try {
      loaded = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw refuse(`plugin "${spec.module}" failed to load: ${(error as Error).message}`, error);
    }
    const exported = loaded.default ?? loaded.plugin;
    const plugins = Array.isArray(exported) ? exported : [exported];
    if (exported === undefined || plugins.length === 0) {
      throw refuse(`plugin "${spec.module}" has no default export; export a plugin made with define*Plugin()`);
    }
    for (const plugin of plugins) {
      const problem = checkPluginShape(plugin);
      if (problem !== undefined) throw refuse(`plugin "${spec.module}" is not a DynMCP plugin: its export ${problem}`);
      const checked = plugin as DynmcpPlugin;
      if (!isSupportedPluginApiVersion(checked.apiVersion)) {
        throw refuse(
          `plugin "${checked.name}" (${spec.module}) needs plugin API ${checked.apiVersion}; this gateway provides API ${PLUGIN_API_VERSION} ` +
            `(and loads plugins for API ${MIN_PLUGIN_API_VERSION} to ${PLUGIN_API_VERSION})`,
        );
      }
      entries.push({ plugin: checked, options: spec.options ?? {}, source: spec.module });
    }
  }
  return entries;
}
