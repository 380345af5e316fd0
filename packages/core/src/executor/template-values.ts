import { GatewayError, type Principal } from '@dynmcp/plugin';
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
  /**
   * Claims of the caller's verified token that `${claim:NAME}` may send (exact names,
   * `executor.toolClaimsAllow`). Default: none.
   */
  claimsAllow?: readonly string[];
  /** Where `${principal:NAME}` reads the calling principal's stored credential; none: every such reference fails. */
  credentials?: PrincipalCredentials;
  /** Clock of the secrets' re-check interval, for tests. */
  now?: () => number;
}

/**
 * The stored per-principal credentials (the live credentials of `@dynmcp/common`), decrypted and
 * held in memory.
 */
export interface PrincipalCredentials {
  /** The value of `name` for `principalId`; `undefined` when none is stored, a problem when one is stored but unreadable. */
  credential(principalId: string, name: string): ReferenceValue | undefined;
}

/** {@link TemplateValues} with the write-time check of a template. */
export interface CheckedTemplateValues extends TemplateValues {
  /**
   * Refuses a template whose `${env:…}` references tools may not read, whose variables hold a
   * protected value now, or whose `${claim:…}` names a claim off the allow-list. `${secret:…}`
   * files and `${principal:…}` credentials are only read at call time: they may be added later.
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

/** The admin route that stores `name` for `principalId`, for messages. */
export function credentialRoute(principalId: string, name: string): string {
  return `PUT /admin/credentials/${encodeURIComponent(principalId)}/${name}`;
}

/** A claim's value as text: strings as they are, numbers and booleans spelt out; anything else has no single text form. */
function claimValue(name: string, caller: Principal | undefined): ReferenceValue {
  if (caller === undefined) {
    return { ok: false, problem: `\${claim:${name}} needs an authenticated caller; this call has none (the instance is public)` };
  }
  const claims = caller.claims;
  if (claims === undefined) {
    return {
      ok: false,
      problem: `claim "${name}" is missing: principal "${caller.id}" authenticated without token claims (an API key); \${claim:${name}} needs a caller with a verified token`,
    };
  }
  const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
  if (value === undefined || value === null) return { ok: false, problem: `claim "${name}" is missing from the caller's token` };
  if (typeof value === 'string') return { ok: true, value };
  if (typeof value === 'number' || typeof value === 'boolean') return { ok: true, value: String(value) };
  return { ok: false, problem: `claim "${name}" of the caller's token is not a string, number or boolean` };
}

/**
 * Creates the source of header and query values for `http` tools: `${env:NAME}` from the
 * environment, limited to the allow-list and never a `DYNMCP_*` setting; `${secret:NAME}` from
 * files of the secrets directory; `${claim:NAME}` from the caller's verified token, limited to the
 * claims allow-list; `${principal:NAME}` from the calling principal's stored credentials; none when
 * the value holds one of the gateway's own credentials.
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
  const claimsAllowed = new Set(options.claimsAllow ?? []);
  const credentials = options.credentials;

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

  function principalValue(name: string, caller: Principal | undefined): ReferenceValue {
    if (caller === undefined) {
      return { ok: false, problem: `\${principal:${name}} needs an authenticated caller; this call has none (the instance is public)` };
    }
    const stored = credentials?.credential(caller.id, name);
    if (stored === undefined) {
      return {
        ok: false,
        problem: `no credential "${name}" stored for principal "${caller.id}"; an admin can add it with ${credentialRoute(caller.id, name)}`,
      };
    }
    return guarded(`credential "${name}" of principal "${caller.id}"`, stored);
  }

  return {
    valueOf(reference: TemplateReference, caller: Principal | undefined) {
      switch (reference.source) {
        case 'env':
          return envValue(reference.name);
        case 'secret':
          return guarded(`secret ${reference.name}`, secrets.read(reference.name));
        case 'claim':
          // A definition stored before the allow-list shrank: refused per call, never sent.
          if (!claimsAllowed.has(reference.name)) {
            return { ok: false, problem: `claim "${reference.name}" may not be sent by tools (not on executor.toolClaimsAllow, DYNMCP_TOOL_CLAIMS_ALLOW)` };
          }
          return guarded(`claim "${reference.name}"`, claimValue(reference.name, caller));
        case 'principal':
          return principalValue(reference.name, caller);
      }
    },
    check(template, where) {
      for (const reference of template.references) {
        if (reference.source === 'claim' && !claimsAllowed.has(reference.name)) {
          throw new GatewayError(
            'INVALID_PAYLOAD',
            `${where}: ${referenceText(reference)} names a claim that is not on the list of claims tools may send; add ${reference.name} to executor.toolClaimsAllow (DYNMCP_TOOL_CLAIMS_ALLOW)`,
          );
        }
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
