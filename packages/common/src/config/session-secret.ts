/** Fewest bytes of a session secret: the key length of HMAC-SHA256's hash. */
export const MIN_SESSION_SECRET_BYTES = 32;

/**
 * Reads `mcp.sessionSecret`: base64 (or base64url) or hex text of at least
 * {@link MIN_SESSION_SECRET_BYTES} bytes. Throws a message that says what to fix; an empty text is
 * no secret (`undefined`).
 */
export function parseSessionSecret(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let bytes: Buffer | undefined;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(trimmed) && trimmed.length >= 2 * MIN_SESSION_SECRET_BYTES) bytes = Buffer.from(trimmed, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
  if (bytes === undefined || bytes.length < MIN_SESSION_SECRET_BYTES) {
    throw new Error(
      `must be base64 or hex of at least ${MIN_SESSION_SECRET_BYTES} random bytes (e.g. the output of \`openssl rand -base64 32\`), ` +
        'the same on every replica',
    );
  }
  return bytes;
}
