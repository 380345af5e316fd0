/**
 * A small reader of `multipart/mixed` and `multipart/related` bodies (RFC 2046 §5.1, RFC 2387), for
 * upstreams that answer with several parts: each part becomes one content block of the tool result.
 */

/** One body part: lower-cased header names, the decoded body. */
export interface BodyPart {
  headers: ReadonlyMap<string, string>;
  body: Buffer;
}

/** The most parts read from one answer; an upstream sending more is answered with an error. */
export const MAX_PARTS = 64;

/** The `boundary` parameter of a multipart content type, or `undefined`. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType ?? '');
  return match?.[1] ?? match?.[2];
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  // Folded header lines (obsolete, RFC 5322 §3.2.2) continue with whitespace.
  for (const line of block.split(/\r?\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim());
  }
  return headers;
}

function decodeTransfer(body: Buffer, encoding: string | undefined): Buffer {
  // HTTP carries parts as binary (RFC 7578 §4.7); base64 is honoured for MIME-minded senders.
  return encoding?.toLowerCase() === 'base64' ? Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64') : body;
}

/**
 * Splits a multipart body at `--boundary` delimiter lines; the preamble and epilogue are dropped.
 * Returns `undefined` when the body holds no complete part or more than {@link MAX_PARTS}.
 */
export function parseMultipart(body: Buffer, boundary: string): BodyPart[] | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: BodyPart[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) return undefined;
  for (;;) {
    let start = at + delimiter.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // `--boundary--`: the close delimiter
    // The rest of the delimiter line (transport padding), then its line break.
    const lineEnd = body.indexOf('\n', start);
    if (lineEnd < 0) return undefined;
    start = lineEnd + 1;
    const next = body.indexOf(Buffer.concat([Buffer.from('\n'), delimiter]), start);
    if (next < 0) return undefined;
    // The CRLF (or LF) before a delimiter belongs to the delimiter, not to the part.
    const end = next > start && body[next - 1] === 0x0d ? next - 1 : next;
    const part = body.subarray(start, end);
    // Headers end at the first blank line; a part without headers starts with it.
    const split = /^\r?\n|\r?\n\r?\n/.exec(part.toString('latin1'));
    const headerText = split === null ? '' : part.subarray(0, split.index).toString('utf8');
    const content = split === null ? part : part.subarray(split.index + split[0].length);
    const headers = parseHeaders(headerText);
    parts.push({ headers, body: decodeTransfer(content, headers.get('content-transfer-encoding')) });
    if (parts.length > MAX_PARTS) return undefined;
    at = next + 1;
  }
  return parts.length > 0 ? parts : undefined;
}
