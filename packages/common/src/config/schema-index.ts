import { configSchema } from './config-schema.js';

// The schema's settings by dotted path, for messages that name a setting with its variable and
// for the checks of keys and variables the loader makes beyond convict's.

/** One setting of the schema: its dotted path, environment variable, format and default. */
export interface SettingInfo {
  path: string;
  env?: string;
  format: unknown;
  default: unknown;
  /** A secret: messages never show its value. */
  sensitive?: boolean;
}

/** Every setting of the schema, by dotted path. */
export const SETTINGS = new Map<string, SettingInfo>();
/** Every group of settings (`server`, `auth.oauth`, …), by dotted path, with the keys it holds. */
export const GROUPS = new Map<string, string[]>();

(function index(node: Record<string, unknown>, prefix: string) {
  for (const [key, child] of Object.entries(node)) {
    const path = `${prefix}${key}`;
    const item = child as Record<string, unknown>;
    // A setting has a default, as convict tells them from groups.
    if ('default' in item) {
      SETTINGS.set(path, {
        path,
        format: item.format,
        default: item.default,
        ...(typeof item.env === 'string' ? { env: item.env } : {}),
        ...(item.sensitive === true ? { sensitive: true } : {}),
      });
    } else {
      GROUPS.set(path, Object.keys(item));
      index(item, `${path}.`);
    }
  }
})(configSchema, '');

/** A setting as messages name it: `server.port (DYNMCP_PORT)`. */
export function settingName(path: string): string {
  const env = SETTINGS.get(path)?.env;
  return env === undefined ? path : `${path} (${env})`;
}

/** The environment variable of every setting. */
export const SETTING_VARIABLES: ReadonlySet<string> = new Set([...SETTINGS.values()].flatMap((setting) => (setting.env === undefined ? [] : [setting.env])));
