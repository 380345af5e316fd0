import { GatewayError } from '@dynmcp/plugin';

/** The record kind of stored per-principal credentials. */
export const CREDENTIAL_KIND = 'credential';

/** A credential's name (`${principal:NAME}`): letters, digits, `_`, `.` and `-`, at most 64. */
export const CREDENTIAL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * A principal id a credential may be stored for: what auth providers return (API key ids, OAuth
 * subjects such as `auth0|5f7c…` or an issuer URL and subject), printable ASCII without spaces, at
 * most 190 characters, so that `<principal>/<name>` fits the stores' 255-character record ids.
 */
export const PRINCIPAL_ID = /^[\x21-\x7e]{1,190}$/;

/** Largest stored value, in bytes of UTF-8: API tokens and keys are far smaller. */
export const MAX_CREDENTIAL_VALUE_BYTES = 8 * 1024;

/** The record id of `name` for `principal`: the name never holds `/`, so the last one splits them. */
export function credentialRecordId(principal: string, name: string): string {
  return `${principal}/${name}`;
}

/** Principal and name of a credential record id; `undefined` when the id is not one. */
export function parseCredentialRecordId(id: string): { principal: string; name: string } | undefined {
  const slash = id.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const principal = id.slice(0, slash);
  const name = id.slice(slash + 1);
  return PRINCIPAL_ID.test(principal) && CREDENTIAL_NAME.test(name) ? { principal, name } : undefined;
}

/**
 * Checks a principal id from a request.
 * @throws GatewayError `INVALID_CREDENTIAL_NAME` saying what a principal id may hold (never echoing it).
 */
export function assertPrincipalId(principal: string): void {
  if (!PRINCIPAL_ID.test(principal)) {
    throw new GatewayError(
      'INVALID_CREDENTIAL_NAME',
      'the principal must be a principal id as the auth provider gives it: 1 to 190 printable ASCII characters without spaces (URL-encode "/" as %2F)',
    );
  }
}

/**
 * Checks a credential name from a request.
 * @throws GatewayError `INVALID_CREDENTIAL_NAME` saying what a name may hold.
 */
export function assertCredentialName(name: string): void {
  if (!CREDENTIAL_NAME.test(name)) {
    throw new GatewayError(
      'INVALID_CREDENTIAL_NAME',
      'the credential name must be 1 to 64 letters, digits, "_", "." or "-", starting with a letter, digit or "_" (as ${principal:NAME} names it)',
    );
  }
}
