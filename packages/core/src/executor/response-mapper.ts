/**
 * Maps an upstream HTTP answer to an MCP tool result.
 *
 * | Upstream answer                                   | Tool result                                                        |
 * |---------------------------------------------------|--------------------------------------------------------------------|
 * | 2xx, empty body (any content type)                | one `text` block with `''`                                         |
 * | 2xx, JSON (`application/json`, `*+json`)          | one `text` block with the JSON text as received; plus              |
 * |                                                   | `structuredContent` when the tool has `output_schema` and the      |
 * |                                                   | JSON is an object (MCP requires an object there)                   |
 * | 2xx, JSON content type but unparsable             | `isError`: `upstream answered 200 OK with invalid JSON: <excerpt>` |
 * | 2xx, `text/*`                                     | one `text` block, decoded with the declared charset (UTF-8 default)|
 * | 2xx, `image/*`                                    | one `image` block: base64 `data`, `mimeType` without parameters    |
 * | 2xx, `audio/*`                                    | one `audio` block: base64 `data`, `mimeType` without parameters    |
 * | 2xx, anything else or no content type             | `text` when the body is valid UTF-8 without NUL bytes, else a      |
 * |                                                   | `resource` block `{ uri: <upstream URL>, mimeType?, blob: base64 }`|
 * | not 2xx (after same-origin redirects)             | `isError`: `upstream answered <status> <statusText>: <excerpt>`    |
 *
 * An excerpt is at most 2 KiB of the body, control characters blanked, `…` when cut; a binary body
 * is described (`<N bytes of image/png>`) instead. Upstream headers never reach the result.
 * `upstreamStatus` is always set, since there was an answer.
 */
import type { ToolCallOutcome, ToolContent, ToolResult } from '@dynmcp/plugin';

/** An upstream answer whose body has been read completely (and within the size cap). */
export interface UpstreamAnswer {
  status: number;
  statusText: string;
  /** The `content-type` header, if any. */
  contentType: string | undefined;
  /** The decoded (decompressed) body. */
  body: Buffer;
  /** The final URL, after redirects; used as the `uri` of `resource` blocks. */
  url: string;
}

/** Mapping options that depend on the tool, not on the answer. */
export interface ResponseMapping {
  /** The tool declares an `output_schema`, so JSON objects also become `structuredContent`. */
  hasOutputSchema: boolean;
}

/** The largest body excerpt an error message carries. */
export const EXCERPT_BYTES = 2048;

/** A tool result with `isError: true` and one text block; `upstreamStatus` when there was an answer. */
export function errorOutcome(message: string, upstreamStatus?: number): ToolCallOutcome {
  const result: ToolResult = { content: [{ type: 'text', text: message }], isError: true };
  return upstreamStatus === undefined ? { result } : { result, upstreamStatus };
}

interface MediaType {
  /** Lower-case `type/subtype`, parameters removed; `''` when absent. */
  essence: string;
  charset: string | undefined;
}

function parseContentType(header: string | undefined): MediaType {
  const [essence = '', ...params] = (header ?? '').split(';').map((part) => part.trim());
  const charset = params
    .map((param) => /^charset\s*=\s*"?([^";]+)"?$/i.exec(param)?.[1])
    .find((value) => value !== undefined);
  return { essence: essence.toLowerCase(), charset: charset?.toLowerCase() };
}

function isJson(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text when it is valid UTF-8 without NUL bytes (which no text format uses), else `undefined`. */
function asUtf8(body: Buffer): string | undefined {
  if (body.includes(0)) return undefined;
  try {
    return strictUtf8.decode(body);
  } catch {
    return undefined;
  }
}

function decodeText(body: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(body);
  } catch {
    // An unknown charset label: UTF-8 with replacement characters is the most useful fallback.
    return new TextDecoder('utf-8').decode(body);
  }
}

/** At most {@link EXCERPT_BYTES} of `body` as text, for error messages. */
export function bodyExcerpt(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return '(empty body)';
  const head = body.subarray(0, EXCERPT_BYTES);
  const cut = body.length > EXCERPT_BYTES;
  // A cut may split a multi-byte character; a lenient decoder turns that tail into U+FFFD, dropped below.
  const text = cut ? new TextDecoder('utf-8').decode(head).replace(/\uFFFD+$/, '') : asUtf8(head);
  if (text === undefined || text.includes('\0')) {
    return `<${body.length} bytes of ${parseContentType(contentType).essence || 'binary data'}>`;
  }
  // Blank control characters (keeping \t and \n) so an excerpt cannot fake log lines or terminal codes.
  const clean = text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ').trim();
  return cut ? `${clean}…` : clean;
}

function success(content: ToolContent[], status: number, structuredContent?: Record<string, unknown>): ToolCallOutcome {
  const result: ToolResult = structuredContent === undefined ? { content } : { content, structuredContent };
  return { result, upstreamStatus: status };
}

/** Maps a complete upstream answer to a tool result, per the table at the top of this file. */
export function mapUpstreamAnswer(answer: UpstreamAnswer, mapping: ResponseMapping): ToolCallOutcome {
  const { status, statusText, body } = answer;
  const statusLine = `${status} ${statusText}`.trim();
  if (status < 200 || status > 299) {
    return errorOutcome(`upstream answered ${statusLine}: ${bodyExcerpt(body, answer.contentType)}`, status);
  }
  if (body.length === 0) return success([{ type: 'text', text: '' }], status);
  const { essence, charset } = parseContentType(answer.contentType);
  if (isJson(essence)) {
    // RFC 8259 §8.1: JSON exchanged between systems is UTF-8, whatever the charset parameter says.
    const text = decodeText(body, 'utf-8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return errorOutcome(`upstream answered ${statusLine} with invalid JSON: ${bodyExcerpt(body, answer.contentType)}`, status);
    }
    const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
    const structured = mapping.hasOutputSchema && isObject ? (parsed as Record<string, unknown>) : undefined;
    return success([{ type: 'text', text }], status, structured);
  }
  if (essence.startsWith('text/')) return success([{ type: 'text', text: decodeText(body, charset) }], status);
  if (essence.startsWith('image/')) return success([{ type: 'image', data: body.toString('base64'), mimeType: essence }], status);
  if (essence.startsWith('audio/')) return success([{ type: 'audio', data: body.toString('base64'), mimeType: essence }], status);
  const text = asUtf8(body);
  if (text !== undefined) return success([{ type: 'text', text }], status);
  const resource =
    essence === ''
      ? { uri: answer.url, blob: body.toString('base64') }
      : { uri: answer.url, mimeType: essence, blob: body.toString('base64') };
  return success([{ type: 'resource', resource }], status);
}
