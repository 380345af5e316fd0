import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CliError } from './cli-error.js';

/** Where the gateway is and which key opens its admin API. */
export interface Connection {
  url: string;
  key: string | undefined;
  /** The profile that supplied a value, if any (for messages). */
  profile: string | undefined;
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

interface Profile {
  url?: string;
  key?: string;
}

/** `$XDG_CONFIG_HOME/dynmcp/config.yaml`, else `~/.config/dynmcp/config.yaml` (the XDG base directory default). */
export function configPath(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : env.HOME && join(env.HOME, '.config');
  return base ? join(base, 'dynmcp', 'config.yaml') : undefined;
}

/**
 * The keys the file may have. Any other is refused: a misspelt `url` would otherwise be ignored and
 * the CLI would talk to the default URL, on a shared host perhaps someone else's gateway.
 */
const FILE_KEYS = ['profiles'] as const;
const PROFILE_KEYS = ['url', 'key'] as const;

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Refuses the first key of `mapping` not in `known`, naming where it is (`where`) and what it may be. */
function refuseUnknownKeys(path: string, where: string, mapping: Record<string, unknown>, known: readonly string[]) {
  const unknown = Object.keys(mapping).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new CliError(`${path}: unknown key "${unknown}" ${where}; the known keys are ${known.join(', ')}`);
  }
}

function readProfiles(path: string): Record<string, Profile> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (error) {
    throw new CliError(`${path}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  const profiles = (parsed as { profiles?: unknown }).profiles;
  if (!isMapping(parsed) || (profiles !== undefined && !isMapping(profiles))) {
    throw new CliError(`${path}: expected "profiles:" mapping profile names to { url, key }`);
  }
  refuseUnknownKeys(path, 'at the top level', parsed, FILE_KEYS);
  const result: Record<string, Profile> = {};
  for (const [name, value] of Object.entries((profiles ?? {}) as Record<string, unknown>)) {
    const profile = value ?? {};
    if (!isMapping(profile)) throw new CliError(`${path}: profiles.${name} must be a mapping of ${PROFILE_KEYS.join(', ')}`);
    refuseUnknownKeys(path, `in profile "${name}"`, profile, PROFILE_KEYS);
    for (const field of PROFILE_KEYS) {
      if (profile[field] !== undefined && typeof profile[field] !== 'string') {
        throw new CliError(`${path}: profiles.${name}.${field} must be a string`);
      }
    }
    result[name] = { url: profile.url as string | undefined, key: profile.key as string | undefined };
  }
  return result;
}

/**
 * The connection of one run. Each value comes from the first that has it: the flag (`--url`,
 * `--key`), the variable (`DYNMCP_URL`, `DYNMCP_API_KEY`), the profile (`--profile`, else
 * `DYNMCP_PROFILE`, else `default`), then the default URL. Naming a profile that does not exist
 * is an error; the `default` profile may be absent.
 */
export function resolveConnection(
  flags: { url?: string; key?: string; profile?: string },
  env: Readonly<Record<string, string | undefined>>,
): Connection {
  const named = flags.profile ?? (env.DYNMCP_PROFILE || undefined);
  const name = named ?? 'default';
  const path = configPath(env);
  const profiles = path === undefined ? undefined : readProfiles(path);
  const profile = profiles?.[name];
  if (named !== undefined && profile === undefined) {
    throw new CliError(`no profile "${name}" in ${path ?? 'the config file (HOME is not set)'}; known: ${Object.keys(profiles ?? {}).join(', ') || 'none'}`);
  }
  const url = flags.url ?? (env.DYNMCP_URL || undefined) ?? profile?.url ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`the gateway URL "${url}" is not a URL; give e.g. --url http://127.0.0.1:8080`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`the gateway URL must be http or https, not ${parsed.protocol}`);
  return {
    url: url.replace(/\/+$/, ''),
    key: flags.key ?? (env.DYNMCP_API_KEY || undefined) ?? profile?.key,
    profile: profile === undefined ? undefined : name,
  };
}
