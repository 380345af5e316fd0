import type { IncomingHttpHeaders } from 'node:http';

/** The `charset` parameter of a media type (RFC 9110 § 8.3.1), quoted or not. */
const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/**
 * Why a request's declared charset is not one a JSON body may have (RFC 8259 § 8.1: UTF-8), in
 * words for the client; undefined when it names none, or UTF-8 under either spelling. Both doors,
 * `/admin` and `/mcp`, refuse such a body before reading it, rather than decode it as UTF-8.
 */
export function charsetRefusal(headers: IncomingHttpHeaders): string | undefined {
  const type = headers['content-type'];
  // Most clients send no parameter at all: no regular expression on the hot path.
  if (type === undefined || !type.includes(';')) return undefined;
  const match = CHARSET.exec(type);
  if (match === null) return undefined;
  const charset = match[1] ?? match[2] ?? '';
  const lower = charset.toLowerCase();
  if (lower === 'utf-8' || lower === 'utf8') return undefined;
  const named = charset === '' ? 'an empty charset' : charset.slice(0, 40);
  return `send the body as UTF-8 JSON, not ${named} (RFC 8259 § 8.1)`;
}
