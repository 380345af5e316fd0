import { CREDENTIAL_NAME } from '@dynmcp/common';
import { GatewayError, type Principal } from '@dynmcp/plugin';

/** Where `${env:NAME}` references are looked up: the process environment, passed in by `main()`. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/**
 * Where a reference's value comes from: an environment variable, a file of the secrets directory,
 * a claim of the caller's verified token, or the calling principal's stored credential.
 */
export const REFERENCE_SOURCES = ['env', 'secret', 'claim', 'principal'] as const;
/** One of {@link REFERENCE_SOURCES}. */
export type ReferenceSource = (typeof REFERENCE_SOURCES)[number];

/** One `${env:NAME}`, `${secret:NAME}`, `${claim:NAME}` or `${principal:NAME}` reference of a template. */
export interface TemplateReference {
  readonly source: ReferenceSource;
  readonly name: string;
}

/** A parsed header-value template: literal text and references, in order. */
export interface EnvTemplate {
  readonly parts: readonly (string | TemplateReference)[];
  /** The references, in order. */
  readonly references: readonly TemplateReference[];
}

/** The value of one reference, or why there is none: a message naming the reference, never a value. */
export type ReferenceValue = { ok: true; value: string } | { ok: false; problem: string };

/**
 * Resolves references at call time; the executor's implementation applies the allow-lists, the
 * secrets directory and the credential store. `caller` is the call's principal (`claim` and
 * `principal` references read it), `undefined` for an anonymous caller.
 */
export interface TemplateValues {
  valueOf(reference: TemplateReference, caller: Principal | undefined): ReferenceValue;
}

/** The outcome of resolving an {@link EnvTemplate}; a failure says which reference and why, never a value. */
export type EnvResolution = { ok: true; value: string } | { ok: false; problem: string };

// Variable names follow POSIX shell rules, so `${env:API-KEY}` is refused at write time instead of failing later.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A secret is a file directly inside the secrets directory: no `/`, and no leading `.` (so neither
// `..` nor the `..data` links Kubernetes keeps there). Kubernetes secret keys use this alphabet.
const SECRET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}$/;
// Token claim names are free-form (RFC 7519 §4): registered ones (`sub`, `email`) and namespaced
// ones (`https://example.com/roles`); no `}` (it ends the reference), `,` (it separates the
// allow-list) or spaces.
const CLAIM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;

function parseReference(inner: string): TemplateReference | undefined {
  const colon = inner.indexOf(':');
  const source = inner.slice(0, colon);
  const name = inner.slice(colon + 1);
  if (source === 'env' && ENV_NAME.test(name)) return { source, name };
  if (source === 'secret' && SECRET_NAME.test(name)) return { source, name };
  if (source === 'claim' && CLAIM_NAME.test(name)) return { source, name };
  if (source === 'principal' && CREDENTIAL_NAME.test(name)) return { source, name };
  return undefined;
}

/**
 * Parses `template` (e.g. `Bearer ${env:RESEND_KEY}` or `Bearer ${secret:resend_key}`). `$` alone is
 * literal, but any `${` must open a well-formed reference: a typo such as `${RESEND_KEY}` would
 * otherwise be sent upstream verbatim and fail with an opaque 401.
 * @throws GatewayError `INVALID_PAYLOAD` saying what to fix.
 */
export function parseEnvTemplate(template: string, where: string): EnvTemplate {
  const parts: (string | TemplateReference)[] = [];
  const references: TemplateReference[] = [];
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
    const reference = end < 0 ? undefined : parseReference(template.slice(start + 2, end));
    if (reference === undefined) {
      throw new GatewayError(
        'INVALID_PAYLOAD',
        `${where}: "\${" must start a reference of the form \${env:NAME} (a variable name), \${secret:NAME} (a file name without "/" or a leading "."), \${claim:NAME} (a token claim such as sub) or \${principal:NAME} (a stored credential: letters, digits, "_", "." and "-", at most 64)`,
      );
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(reference);
    references.push(reference);
    index = end + 1;
  }
  if (literal !== '') parts.push(literal);
  return { parts, references };
}

/** `${source:NAME}`, for messages. */
export function referenceText(reference: TemplateReference): string {
  return `\${${reference.source}:${reference.name}}`;
}

/**
 * Resolves `template` at call time, so rotating a secret needs no tool update. The first reference
 * without a value fails the whole template: an empty credential is a deployment mistake, better
 * named than sent.
 */
export function resolveEnvTemplate(template: EnvTemplate, values: TemplateValues, caller?: Principal): EnvResolution {
  let value = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      value += part;
      continue;
    }
    const resolved = values.valueOf(part, caller);
    if (!resolved.ok) return resolved;
    value += resolved.value;
  }
  return { ok: true, value };
}
