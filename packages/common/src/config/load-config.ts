import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import convict from 'convict';
import { GatewayError } from '@dynmcp/plugin';
import { closestName } from './closest-name.js';
import { configSchema, ENVIRONMENT_NAME, jsonErrorReason } from './config-schema.js';
import type { ConfigOf } from './config-type.js';
import { configWarnings } from './config-warnings.js';
import { GROUPS, settingName, SETTINGS } from './schema-index.js';

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
  /**
   * Told, once the configuration is valid, of what looks like a mistake but is not one for sure
   * (see {@link configWarnings}), so the server can log it: a constant message and what it is about.
   */
  onWarning?: (message: string, meta: Record<string, unknown>) => void;
}

/** A configuration file as read: its path and its settings, checked against the schema's keys. */
interface SettingsFile {
  path: string;
  settings: Record<string, unknown>;
}

/**
 * Loads the configuration: schema defaults, then `config/default.json`, then `config/<env>.json`,
 * then `DYNMCP_*` environment variables (convict lets them win over files), then `overrides`. Unknown keys in files are refused, as is
 * any value of the wrong format and a pair of settings breaking a rule docs/configuration.md states;
 * the error names the key, its variable and the file or variable the value came from.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<GatewayConfig> {
  const env = options.env ?? process.env;
  const configDir = options.configDir ?? env.DYNMCP_CONFIG_DIR ?? join(process.cwd(), 'config');
  let config;
  try {
    config = convict(configSchema, { env: env as NodeJS.ProcessEnv, args: [] });
    const files: SettingsFile[] = [];
    for (const name of ['default.json', environmentFile(config.get('env'))]) {
      const path = name === undefined ? undefined : join(configDir, name);
      if (path !== undefined && existsSync(path)) files.push({ path, settings: readSettingsFile(path) });
    }
    for (const file of files) config.load(file.settings);
    if (options.overrides) {
      refuseUnknownKeys(options.overrides, 'overrides');
      config.load(options.overrides);
    }
    const sources = { env, files, overrides: options.overrides };
    try {
      config.validate({ allowed: 'strict' });
    } catch (error) {
      const loaded = config as unknown as PathAccess;
      throw new Error(withSources((error as Error).message, sources, (path) => loaded.get(path)));
    }
    refuseBrokenRules(config as unknown as PathAccess, sources);
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
  const loaded = deepFreeze(config.getProperties() as GatewayConfig);
  if (options.onWarning !== undefined) {
    const configDirNamed = (options.configDir ?? env.DYNMCP_CONFIG_DIR) !== undefined;
    for (const warning of configWarnings({ env, environment: loaded.env, configDir, configDirNamed })) {
      options.onWarning(warning.message, warning.meta);
    }
  }
  return loaded;
}

/** `<env>.json`, or undefined for an environment name its format refuses (validation then says so): never a path elsewhere. */
function environmentFile(env: string): string | undefined {
  return ENVIRONMENT_NAME.test(env) ? `${env}.json` : undefined;
}

/** Where in a text a JSON parser stopped (`at position 28`), as the line and column an editor shows. */
function lineAndColumn(text: string, reason: string): string {
  const position = /at position (\d+)/.exec(reason);
  if (position === null || /line \d+/.test(reason)) return '';
  const before = text.slice(0, Number(position[1]));
  const lines = before.split('\n');
  return ` (line ${lines.length}, column ${(lines.at(-1)?.length ?? 0) + 1})`;
}

/**
 * Reads one configuration file: one JSON object whose keys are all settings or groups of the schema.
 * Every problem names the file; JSON's own message is kept without the text it quotes (a file may
 * hold a password).
 */
function readSettingsFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (error) {
    const reason = jsonErrorReason(error);
    throw new Error(`${path} is not valid JSON: ${reason}${lineAndColumn(text, reason)}; fix the file (JSON allows no comments and no comma after the last entry)`, { cause: error });
  }
  if (settings === null) return {};
  if (typeof settings !== 'object' || Array.isArray(settings)) {
    throw new Error(`${path} must hold one JSON object of settings, such as { "server": { "port": 8080 } }`);
  }
  refuseUnknownKeys(settings as Record<string, unknown>, path);
  return settings as Record<string, unknown>;
}

/**
 * Refuses keys of a file (or of `overrides`) that name no setting or group, with the setting most
 * likely meant; and a group given a value, or a setting given an object. convict would say only
 * "configuration param 'server.prot' not declared in the schema", without the file.
 */
function refuseUnknownKeys(settings: Record<string, unknown>, source: string): void {
  const problems: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const path = `${prefix}${key}`;
      const isGroup = GROUPS.has(path);
      const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
      if (SETTINGS.has(path)) {
        if (isObject) problems.push(`${path} is a setting, not a group: give it a value`);
      } else if (isGroup) {
        if (isObject) walk(value as Record<string, unknown>, `${path}.`);
        else problems.push(`${path} is a group of settings (${GROUPS.get(path)!.join(', ')}): give it an object`);
      } else {
        const meant = closestName(path, [...SETTINGS.keys(), ...GROUPS.keys()]);
        problems.push(`${path} is not a setting${meant === undefined ? '' : ` (did you mean ${meant}?)`}; rename or remove it (docs/configuration.md lists every setting)`);
      }
    }
  };
  walk(settings, '');
  if (problems.length > 0) throw new Error(problems.map((problem) => `${source}: ${problem}`).join('\n'));
}

/** Where the values came from, to say which one set a setting. */
interface Sources {
  env: Record<string, string | undefined>;
  files: readonly SettingsFile[];
  overrides?: Record<string, unknown>;
}

const hasPath = (object: Record<string, unknown> | undefined, path: string) =>
  path.split('.').reduce<unknown>((at, key) => (at !== null && typeof at === 'object' && Object.hasOwn(at, key) ? (at as Record<string, unknown>)[key] : undefined), object) !==
  undefined;

/**
 * What set a setting last: its environment variable, which wins over everything (convict reads it
 * again after each file and override), then the overrides, then the last file naming it.
 * Undefined when it has its default.
 */
function sourceOf(path: string, sources: Sources): string | undefined {
  const env = SETTINGS.get(path)?.env;
  if (env !== undefined && sources.env[env] !== undefined) return env;
  if (hasPath(sources.overrides, path)) return 'overrides';
  return sources.files.findLast((file) => hasPath(file.settings, path))?.path;
}

/**
 * convict's validation message, one line per bad setting (`server.port: must be …: value was "x"`),
 * with each line saying where the value came from and which variable sets it. convict leaves out
 * a value of 0 or false; the line shows it too, unless the setting is a secret (an empty value is
 * named as such by the formats).
 */
function withSources(message: string, sources: Sources, valueOf: (path: string) => unknown): string {
  return message
    .split('\n')
    .map((told) => {
      const path = /^([\w.]+): /.exec(told)?.[1];
      const setting = path === undefined ? undefined : SETTINGS.get(path);
      if (setting === undefined) return told;
      const value = setting.sensitive === true || told.includes(': value was ') ? undefined : valueOf(setting.path);
      const line = value === 0 || value === false ? `${told}: value was ${JSON.stringify(value)}` : told;
      const source = sourceOf(setting.path, sources);
      if (source === setting.env) return `${line} (from ${setting.env})`;
      const variable = setting.env === undefined ? '' : `environment variable ${setting.env}`;
      return `${line} (${[source === undefined ? '' : `from ${source}`, variable].filter((part) => part !== '').join('; ')})`;
    })
    .join('\n');
}

/**
 * Refuses pairs of valid settings that break a rule docs/configuration.md states, naming both
 * settings and their variables. `server.headersTimeoutMs` left at its default is not refused: the
 * HTTP server lowers it to `server.requestTimeoutMs`, so setting only a short request timeout works.
 */
function refuseBrokenRules(config: PathAccess, sources: Sources): void {
  const number = (path: string) => config.get(path) as number;
  const requestTimeoutMs = number('server.requestTimeoutMs');
  const headersTimeoutMs = number('server.headersTimeoutMs');
  if (requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs && sourceOf('server.headersTimeoutMs', sources) !== undefined) {
    throw new Error(
      `${settingName('server.headersTimeoutMs')} is ${headersTimeoutMs} but must be at most ${settingName('server.requestTimeoutMs')}, ${requestTimeoutMs}: lower it, raise requestTimeoutMs, or set it to 0 to leave the headers to requestTimeoutMs`,
    );
  }
  const heartbeatMs = number('replicas.heartbeatMs');
  const ttlMs = number('replicas.ttlMs');
  if (ttlMs <= heartbeatMs) {
    throw new Error(
      `${settingName('replicas.ttlMs')} is ${ttlMs} but must be more than ${settingName('replicas.heartbeatMs')}, ${heartbeatMs}, or a replica's entry expires between two renewals: raise ttlMs (3 times heartbeatMs is usual) or lower heartbeatMs`,
    );
  }
}

/** The part of convict's API that {@link applyEnvironmentDefaults} and {@link refuseBrokenRules} need, by dotted path. */
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
