import { existsSync } from 'node:fs';
import { join } from 'node:path';
import convict from 'convict';
import { GatewayError } from '@dynmcp/plugin';
import { configSchema } from './config-schema.js';
import type { ConfigOf } from './config-type.js';

/**
 * The validated, frozen configuration, derived from the schema: a key added to config-schema.ts
 * appears here with its type. Settings "by environment" (see {@link ENVIRONMENT_DEFAULTS}) are
 * never `null` once loaded; deprecated ones (`admin.maxAuthFailures`, `admin.authFailureWindowMs`)
 * are `null` when not set, and already folded into their new names.
 */
export type GatewayConfig = ConfigOf<typeof configSchema, keyof typeof ENVIRONMENT_DEFAULTS>;

/** Loopback and private networks (RFC 1918, RFC 6598 shared space, IPv6 unique local): where a developer's own upstreams run. */
const LOCAL_NETWORKS = ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];

/**
 * Settings whose default depends on the environment (`env`). Their schema default is `null`
 * ("by environment"); after validation, each one still `null` (no file, variable or override set
 * it) takes the value its rule gives. To add one: `nullable: true, default: null` in
 * config-schema.ts, a rule here, and a docs/configuration.md row with the default `null` saying
 * what each environment gets.
 */
export const ENVIRONMENT_DEFAULTS = {
  // A developer's machine: its variables are the developer's own, so tools may read any but DYNMCP_*.
  'executor.toolEnvAllow': (env) => (env === 'development' ? ['*'] : []),
  // A developer's upstreams run on the same machine or network; link-local and metadata stay denied.
  'executor.egress.allow': (env) => (env === 'development' ? [...LOCAL_NETWORKS] : []),
  // The web console: at hand on a developer's machine; a production gateway serves it only when asked.
  'ui.enabled': (env) => env === 'development',
} as const satisfies Readonly<Record<string, (env: string) => unknown>>;

/** Where {@link loadConfig} reads from; all optional, defaulting to the process's own. */
export interface LoadConfigOptions {
  /** Environment variables (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Folder holding default.json and <env>.json (default `$DYNMCP_CONFIG_DIR` or `./config`). */
  configDir?: string;
  /** Values laid over everything else, e.g. by tests. */
  overrides?: Record<string, unknown>;
}

/**
 * Loads the configuration: schema defaults, then `config/default.json`, then `config/<env>.json`,
 * then `DYNMCP_*` environment variables (convict lets them win over files), then `overrides`. Unknown keys in files are refused, as is
 * any value of the wrong format; the error names the key.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<GatewayConfig> {
  const env = options.env ?? process.env;
  const config = convict(configSchema, { env: env as NodeJS.ProcessEnv, args: [] });
  const configDir = options.configDir ?? env.DYNMCP_CONFIG_DIR ?? join(process.cwd(), 'config');
  try {
    for (const file of ['default.json', `${config.get('env')}.json`]) {
      const path = join(configDir, file);
      if (existsSync(path)) config.loadFile(path);
    }
    if (options.overrides) config.load(options.overrides);
    config.validate({ allowed: 'strict' });
    // Deprecated names win only over a default, so setting the new name is always enough.
    const maxAuthFailures = config.get('admin.maxAuthFailures');
    if (maxAuthFailures !== null && config.get('auth.maxFailures') === config.default('auth.maxFailures')) {
      config.set('auth.maxFailures', maxAuthFailures);
    }
    const authFailureWindowMs = config.get('admin.authFailureWindowMs');
    if (authFailureWindowMs !== null && config.get('auth.failureWindowMs') === config.default('auth.failureWindowMs')) {
      config.set('auth.failureWindowMs', authFailureWindowMs);
    }
    applyEnvironmentDefaults(config as unknown as PathAccess, String(config.get('env')));
  } catch (error) {
    throw new GatewayError('INTERNAL_ERROR', `invalid configuration: ${(error as Error).message}`, { cause: error });
  }
  return deepFreeze(config.getProperties() as GatewayConfig);
}

/** The part of convict's API that {@link applyEnvironmentDefaults} needs, by dotted path. */
interface PathAccess {
  get(path: string): unknown;
  set(path: string, value: unknown): void;
}

function applyEnvironmentDefaults(config: PathAccess, env: string): void {
  for (const [path, byEnvironment] of Object.entries(ENVIRONMENT_DEFAULTS)) {
    if (config.get(path) === null) config.set(path, byEnvironment(env));
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
