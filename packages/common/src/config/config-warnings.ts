import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { closestName } from './closest-name.js';
import { SETTING_VARIABLES } from './schema-index.js';

/** Something in the configuration's surroundings that looks like a mistake: a constant message, and what it is about. */
export interface ConfigWarning {
  message: string;
  meta: Record<string, unknown>;
}

/**
 * `DYNMCP_*` variables read on purpose by something other than a setting. Any other variable under
 * the prefix is most likely a misspelt setting, which convict ignores without a word.
 */
export const OTHER_VARIABLES: ReadonlySet<string> = new Set([
  // The loader: the configuration folder.
  'DYNMCP_CONFIG_DIR',
  // The dynmcp CLI (apps/cli), often set in the same shell; `dynmcp serve` passes its environment on.
  'DYNMCP_URL',
  'DYNMCP_API_KEY',
  'DYNMCP_PROFILE',
  // The shipped load-balancer configurations (config/load-balancers/), which may share a compose file's environment.
  'DYNMCP_LB_BIND',
  'DYNMCP_LB_LISTEN',
  'DYNMCP_GW1',
  'DYNMCP_GW2',
  'DYNMCP_GW3',
  // The repository's own scripts and tests.
  'DYNMCP_TOOLS_CACHE',
  'DYNMCP_TEST_SEED',
  'DYNMCP_SCREENSHOTS',
]);

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** Where a configuration was loaded from, as {@link configWarnings} needs it. */
export interface ConfigSurroundings {
  /** The environment variables it was loaded with. */
  env: Readonly<Record<string, string | undefined>>;
  /** The loaded configuration's environment name (`env`). */
  environment: string;
  /** The folder the files were looked for in. */
  configDir: string;
  /** Whether that folder was named (`DYNMCP_CONFIG_DIR` or the loader's option) rather than the default `./config`. */
  configDirNamed: boolean;
}

/**
 * What may be a mistake although the configuration is valid, so the start goes on and the server
 * logs a warning for each:
 * - a `DYNMCP_*` variable that is neither a setting's nor one of {@link OTHER_VARIABLES} (case
 *   ignored, so `dynmcp_port` is caught too), with the name most likely meant;
 * - `DYNMCP_API_KEY` while `DYNMCP_API_KEYS` is unset or empty: the CLI's variable, one letter off
 *   the server's;
 * - a named configuration folder that does not exist. The loader reads whichever files exist (a
 *   deployment may configure everything through variables, and tests load from empty folders),
 *   so this is a warning, not a refusal;
 * - a `DYNMCP_ENV` without its `<env>.json` in the folder, for the same reason.
 */
export function configWarnings(where: ConfigSurroundings): ConfigWarning[] {
  const { env } = where;
  const warnings: ConfigWarning[] = [];
  const known = [...SETTING_VARIABLES, ...OTHER_VARIABLES];
  for (const variable of Object.keys(env).sort()) {
    if (env[variable] === undefined || !variable.toUpperCase().startsWith('DYNMCP_')) continue;
    if (variable === 'DYNMCP_API_KEY') {
      // Both set is the shell of someone who runs the server and uses the CLI against it.
      if ((env.DYNMCP_API_KEYS ?? '').replace(/[\s,]/g, '') === '') {
        warnings.push({
          message: "DYNMCP_API_KEY is not read by the server (it is the dynmcp CLI's key): the server reads its admin keys from DYNMCP_API_KEYS",
          meta: { variable, didYouMean: 'DYNMCP_API_KEYS' },
        });
      }
    } else if (!SETTING_VARIABLES.has(variable) && !OTHER_VARIABLES.has(variable)) {
      const meant = closestName(variable, known);
      warnings.push({
        message: 'an environment variable starting with DYNMCP_ is not a setting and is ignored; check its spelling (docs/configuration.md lists every variable)',
        meta: { variable, ...(meant === undefined ? {} : { didYouMean: meant }) },
      });
    }
  }
  if (where.configDirNamed && !isDirectory(where.configDir)) {
    warnings.push({
      message: 'the configuration folder does not exist: no configuration file is read, only the defaults and DYNMCP_* variables apply; check DYNMCP_CONFIG_DIR',
      meta: { configDir: where.configDir },
    });
  } else if (env.DYNMCP_ENV !== undefined && !existsSync(join(where.configDir, `${where.environment}.json`))) {
    warnings.push({
      message: 'DYNMCP_ENV names an environment without a configuration file: only default.json and DYNMCP_* variables apply; check its spelling or add the file',
      meta: { env: where.environment, file: join(where.configDir, `${where.environment}.json`) },
    });
  }
  return warnings;
}
