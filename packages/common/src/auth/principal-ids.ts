/**
 * Principal ids the gateway gives itself, so no authentication source may give them: the id of an
 * admin key configured without a name (`api-key:<hex>`) and the key of a caller without credentials
 * on a public instance (`anonymous@<address>`). Principal ids share one namespace (sessions,
 * per-caller limits, `allowed_principals`, stored credentials are keyed by them), so an OAuth token
 * or a plugin provider that named a caller `anonymous@127.0.0.1` would share that address's
 * sessions and limits.
 */
const GATEWAY_PREFIXES = ['api-key:', 'anonymous@'] as const;

/** The principal id of an admin key without a name: a prefix of its bytes in hex. */
export function apiKeyPrincipalId(keyHex: string): string {
  return `${GATEWAY_PREFIXES[0]}${keyHex}`;
}

/** The caller key of a request without credentials, kept apart from other anonymous callers by address. */
export function anonymousPrincipalId(address: string): string {
  return `${GATEWAY_PREFIXES[1]}${address}`;
}

/** The gateway's own prefix `id` starts with (`api-key:` or `anonymous@`), or undefined. */
export function gatewayPrincipalPrefix(id: string): string | undefined {
  return GATEWAY_PREFIXES.find((prefix) => id.startsWith(prefix));
}
