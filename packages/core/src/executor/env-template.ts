import { GatewayError } from '@dynmcp/plugin';

/** Where `${env:NAME}` references are looked up: the process environment, passed in by `main()`. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** A parsed header-value template: literal text and `${env:NAME}` references, in order. */
export interface EnvTemplate {
  readonly parts: readonly (string | { readonly env: string })[];
  /** Names of the referenced environment variables. */
  readonly names: readonly string[];
}

/** The outcome of resolving an {@link EnvTemplate}; a failure names the variable, never a value. */
export type EnvResolution = { ok: true; value: string } | { ok: false; missing: string };

// Names follow POSIX shell rules, so `${env:API-KEY}` is refused at write time instead of failing later.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `template` (e.g. `Bearer ${env:RESEND_KEY}`). `$` alone is literal, but any `${` must open a
 * well-formed `${env:NAME}` reference: a typo such as `${RESEND_KEY}` would otherwise be sent upstream
 * verbatim and fail with an opaque 401.
 * @throws GatewayError `INVALID_PAYLOAD` saying what to fix.
 */
export function parseEnvTemplate(template: string, where: string): EnvTemplate {
  const parts: (string | { env: string })[] = [];
  const names: string[] = [];
  let literal = '';
  let index = 0;
  while (index < template.length) {
    const start = template.indexOf('${', index);
    if (start < 0) {
      literal += template.slice(index);
      break;
    }
    literal += template.slice(index, start);
    const end = template.indexOf('}', start);
    const inner = end < 0 ? '' : template.slice(start + 2, end);
    const name = inner.startsWith('env:') ? inner.slice(4) : '';
    if (end < 0 || !ENV_NAME.test(name)) {
      throw new GatewayError('INVALID_PAYLOAD', `${where}: "\${" must start a reference of the form \${env:NAME}`);
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push({ env: name });
    names.push(name);
    index = end + 1;
  }
  if (literal !== '') parts.push(literal);
  return { parts, names };
}

/**
 * Resolves `template` against `env` at call time, so rotating a secret needs no tool update. An unset
 * or empty variable is a failure: an empty credential is a deployment mistake, better named than sent.
 */
export function resolveEnvTemplate(template: EnvTemplate, env: EnvSource): EnvResolution {
  let value = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      value += part;
      continue;
    }
    const resolved = env[part.env];
    if (resolved === undefined || resolved === '') return { ok: false, missing: part.env };
    value += resolved;
  }
  return { ok: true, value };
}
