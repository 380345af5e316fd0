import { GatewayError } from '@dynmcp/plugin';
import { referenceText } from './env-template.js';
import type { EnvSource, EnvTemplate, ReferenceValue, TemplateReference, TemplateValues } from './env-template.js';
import { createSecretFiles, DEFAULT_SECRETS_DIR } from './secret-files.js';

/** Prefix of the gateway's own settings: never readable by a tool, whatever the allow-list says. */
export const GATEWAY_ENV_PREFIX = 'DYNMCP_';
/** Protected values at least this long are refused anywhere inside a variable, shorter ones only as the whole value. */
const CONTAINED_MIN_LENGTH = 8;
// An allow-list entry: a variable name, a name prefix ending in `*`, or `*` alone.
const ALLOW_ENTRY = /^(\*|[A-Za-z_][A-Za-z0-9_]*\*?)$/;

/** Options of {@link createTemplateValues}. */
export interface TemplateValuesOptions {
  /** Source of `${env:NAME}` values, read at every call. */
  env: EnvSource;
  /** Names tools may read: exact names, `PREFIX*`, or `*` for every name not otherwise protected. */
  envAllow: readonly string[];
  /** Directory of `${secret:NAME}` files. */
  secretsDir: string;
  /**
   * The gateway's own credentials (admin and scoped keys, store passwords and URLs). A variable or
   * secret holding one is never sent: an operator may have copied one there by mistake.
   */
  protectedValues: readonly string[];
  /** Clock of the secrets' re-check interval, for tests. */
  now?: () => number;
}

/** {@link TemplateValues} with the write-time check of a template. */
export interface CheckedTemplateValues extends TemplateValues {
  /**
   * Refuses a template whose `${env:…}` references tools may not read, or whose variables hold a
   * protected value now. `${secret:…}` files are only read at call time: they may be mounted later.
   * @throws GatewayError `INVALID_PAYLOAD` naming the setting to change.
   */
  check(template: EnvTemplate, where: string): void;
}

/** Matches names against an allow-list of exact names, `PREFIX*` entries and `*`. */
export function compileEnvAllowList(entries: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const entry of entries) {
    if (!ALLOW_ENTRY.test(entry)) {
      throw new GatewayError(
        'INTERNAL_ERROR',
        `executor.toolEnvAllow: "${entry}" is not a variable name, a prefix ending in "*" (RESEND_*) or "*"`,
      );
    }
    if (entry.endsWith('*')) prefixes.push(entry.slice(0, -1));
    else exact.add(entry);
  }
  return (name) => exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix));
}

type NameVerdict = 'allowed' | 'gateway' | 'not-listed';

/**
 * Creates the source of header values for `http` tools: `${env:NAME}` from the environment, limited
 * to the allow-list and never a `DYNMCP_*` setting; `${secret:NAME}` from files of the secrets
 * directory; neither when the value holds one of the gateway's own credentials.
 */
export function createTemplateValues(options: TemplateValuesOptions): CheckedTemplateValues {
  const { env } = options;
  const listed = compileEnvAllowList(options.envAllow);
  const secrets = createSecretFiles(options.secretsDir || DEFAULT_SECRETS_DIR, options.now);
  const protectedValues = [...new Set(options.protectedValues.filter((value) => value !== ''))];
  const long = protectedValues.filter((value) => value.length >= CONTAINED_MIN_LENGTH);
  const short = new Set(protectedValues.filter((value) => value.length < CONTAINED_MIN_LENGTH));
  // The allow-list is fixed for the executor's life, and definitions name few variables.
  const verdicts = new Map<string, NameVerdict>();

  function verdictOf(name: string): NameVerdict {
    let verdict = verdicts.get(name);
    if (verdict === undefined) {
      verdict = name.toUpperCase().startsWith(GATEWAY_ENV_PREFIX) ? 'gateway' : listed(name) ? 'allowed' : 'not-listed';
      if (verdicts.size < 1_024) verdicts.set(name, verdict);
    }
    return verdict;
  }

  function isProtected(value: string): boolean {
    return short.has(value) || long.some((secret) => value.includes(secret));
  }

  function guarded(what: string, value: ReferenceValue): ReferenceValue {
    if (value.ok && isProtected(value.value)) {
      return { ok: false, problem: `${what} holds one of the gateway's own credentials; it is never sent upstream` };
    }
    return value;
  }

  function envValue(name: string): ReferenceValue {
    switch (verdictOf(name)) {
      case 'gateway':
        return { ok: false, problem: `environment variable ${name} is one of the gateway's own settings, which tools can never read` };
      case 'not-listed':
        return {
          ok: false,
          problem: `environment variable ${name} may not be read by tools (not on executor.toolEnvAllow, DYNMCP_TOOL_ENV_ALLOW)`,
        };
      case 'allowed': {
        const value = env[name];
        if (value === undefined || value === '') return { ok: false, problem: `environment variable ${name} is not set` };
        return guarded(`environment variable ${name}`, { ok: true, value });
      }
    }
  }

  return {
    valueOf(reference: TemplateReference) {
      if (reference.source === 'env') return envValue(reference.name);
      return guarded(`secret ${reference.name}`, secrets.read(reference.name));
    },
    check(template, where) {
      for (const reference of template.references) {
        if (reference.source !== 'env') continue;
        const text = referenceText(reference);
        const verdict = verdictOf(reference.name);
        if (verdict === 'gateway') {
          throw new GatewayError(
            'INVALID_PAYLOAD',
            `${where}: ${text} names one of the gateway's own settings (${GATEWAY_ENV_PREFIX}*), which tools can never read, whatever DYNMCP_TOOL_ENV_ALLOW says; put the upstream's credential in a variable of its own`,
          );
        }
        if (verdict === 'not-listed') {
          throw new GatewayError(
            'INVALID_PAYLOAD',
            `${where}: ${text} is not on the list of variables tools may read; add ${reference.name} to executor.toolEnvAllow (DYNMCP_TOOL_ENV_ALLOW), or use \${secret:NAME}`,
          );
        }
        const value = env[reference.name];
        if (value !== undefined && value !== '' && isProtected(value)) {
          throw new GatewayError(
            'INVALID_PAYLOAD',
            `${where}: ${text} holds one of the gateway's own credentials, which is never sent upstream; give the upstream a credential of its own`,
          );
        }
      }
    },
  };
}
