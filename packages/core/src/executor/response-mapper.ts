/**
 * Maps an upstream HTTP answer to an MCP tool result (docs/tool-definition.md, "What the model
 * gets back"). With `ext_info.result.as` absent or `auto`, the content type decides:
 *
 * | Upstream answer                                   | Tool result                                                        |
 * |---------------------------------------------------|--------------------------------------------------------------------|
 * | 2xx, empty body (any content type)                | one `text` block with `''`                                         |
 * | 2xx, JSON (`application/json`, `*+json`)          | one `text` block with the JSON text as received; plus              |
 * |                                                   | `structuredContent` when the tool has `output_schema` and the      |
 * |                                                   | JSON is an object (MCP requires an object there)                   |
 * | 2xx, JSON content type but unparsable             | `isError`: `upstream answered 200 OK with invalid JSON: <excerpt>` |
 * | 2xx, JSON nested deeper than 128 (json-depth.ts)  | `isError`: `upstream answered 200 OK with JSON nested deeper than  |
 * |                                                   | 128 levels; not passed on`                                         |
 * | 2xx, `text/*`                                     | one `text` block, decoded with the declared charset (UTF-8 default)|
 * | 2xx, `image/*`                                    | one `image` block: base64 `data`, `mimeType` without parameters    |
 * | 2xx, `audio/*`                                    | one `audio` block: base64 `data`, `mimeType` without parameters    |
 * | 2xx, `multipart/mixed` or `multipart/related`     | one block per part, each mapped by its own content type; a part    |
 * |                                                   | with `Content-Location` becomes an embedded `resource` of that uri |
 * | 2xx, `text/event-stream`                          | see event-stream.ts: progress, log messages, then the result       |
 * | 2xx, anything else or no content type             | `text` when the body is valid UTF-8 without NUL bytes, else a      |
 * |                                                   | `resource` block `{ uri: <upstream URL>, mimeType?, blob: base64 }`|
 * | not 2xx (after same-origin redirects)             | `isError`: `upstream answered <status> <statusText>: <excerpt>`    |
 *
 * A declared mapping (`ext_info.result`) can instead wrap the whole body as `text`, `image`,
 * `audio` or an embedded `resource` with a given `uri`, and `mime_type` replaces the upstream's
 * content type. An excerpt is at most 2 KiB of the body, control characters blanked, `…` when cut;
 * a binary body is described (`<N bytes of image/png>`) instead. Upstream headers never reach the
 * result. `upstreamStatus` is always set, since there was an answer.
 */
import type { ToolCallOutcome, ToolContent, ToolResult } from '@dynmcp/plugin';
import type { EventStreamOutcome } from './event-stream.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
import { multipartBoundary, parseMultipart, type BodyPart } from './multipart.js';

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

/** How a declared mapping (`ext_info.result.as`) wraps the body; `auto` decides by content type. */
export const RESULT_MAPPINGS = ['auto', 'text', 'image', 'audio', 'resource'] as const;
/** One of {@link RESULT_MAPPINGS}. */
export type ResultMappingKind = (typeof RESULT_MAPPINGS)[number];

/** A tool's declared result mapping (`ext_info.result`). */
export interface ResultMapping {
  as: ResultMappingKind;
  /** The `uri` of embedded resources made from the whole body; the upstream URL when absent. */
  uri?: string;
  /** Replaces the upstream's content type (`type/subtype`). */
  mimeType?: string;
}

/** Mapping options that depend on the tool, not on the answer. */
export interface ResponseMapping {
  /** The tool declares an `output_schema`, so JSON objects also become `structuredContent`. */
  hasOutputSchema: boolean;
  /** The declared mapping; `{ as: 'auto' }` when absent. */
  result?: ResultMapping;
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

/** The decoder of nearly every answer, made once: a decoder keeps no state between whole-body calls. */
const utf8 = new TextDecoder('utf-8');

function decodeText(body: Buffer, charset: string | undefined): string {
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return utf8.decode(body);
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    // An unknown charset label: UTF-8 with replacement characters is the most useful fallback.
    return utf8.decode(body);
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
  // eslint-disable-next-line no-control-regex -- matching control characters is the point here
  const clean = text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ').trim();
  return cut ? `${clean}…` : clean;
}

function success(content: ToolContent[], status: number, structuredContent?: Record<string, unknown>): ToolCallOutcome {
  const result: ToolResult = structuredContent === undefined ? { content } : { content, structuredContent };
  return { result, upstreamStatus: status };
}

function isTextual(essence: string): boolean {
  return essence.startsWith('text/') || isJson(essence) || essence === 'application/xml' || essence.endsWith('+xml');
}

// Types whose bytes are never text, even when they happen to be valid UTF-8. (Sloppy APIs label
// text application/octet-stream; that one is still judged by its bytes.)
function isBinary(essence: string): boolean {
  return /^(image|audio|video|font)\//.test(essence);
}

/** An embedded resource of `body`: `text` when it is text, else a base64 `blob`. */
function resourceBlock(uri: string, essence: string, charset: string | undefined, body: Buffer): ToolContent {
  const base = essence === '' ? { uri } : { uri, mimeType: essence };
  const text = isTextual(essence) ? decodeText(body, isJson(essence) ? 'utf-8' : charset) : isBinary(essence) ? undefined : asUtf8(body);
  return { type: 'resource', resource: text === undefined ? { ...base, blob: body.toString('base64') } : { ...base, text } };
}

/** The content block of a body mapped by its content type (`auto`), JSON excepted. */
function autoBlock(body: Buffer, essence: string, charset: string | undefined, uri: string): ToolContent {
  if (essence.startsWith('text/')) return { type: 'text', text: decodeText(body, charset) };
  if (essence.startsWith('image/')) return { type: 'image', data: body.toString('base64'), mimeType: essence };
  if (essence.startsWith('audio/')) return { type: 'audio', data: body.toString('base64'), mimeType: essence };
  const text = isBinary(essence) ? undefined : asUtf8(body);
  if (text !== undefined) return { type: 'text', text };
  return resourceBlock(uri, essence, charset, body);
}

/** One block per body part; a part with `Content-Location` is an embedded resource of that uri. */
function partBlock(part: BodyPart, index: number, url: string): ToolContent {
  // RFC 2046 §5.1: a part without Content-Type is text/plain (US-ASCII, a subset of UTF-8).
  const { essence, charset } = parseContentType(part.headers.get('content-type') ?? 'text/plain');
  const location = part.headers.get('content-location');
  if (location !== undefined && location !== '') return resourceBlock(location, essence, charset, part.body);
  if (isJson(essence)) return { type: 'text', text: decodeText(part.body, 'utf-8') };
  return autoBlock(part.body, essence, charset, `${url}#part-${index + 1}`);
}

/** Maps a complete upstream answer to a tool result, per the table at the top of this file. */
export function mapUpstreamAnswer(answer: UpstreamAnswer, mapping: ResponseMapping): ToolCallOutcome {
  const { status, statusText, body } = answer;
  const statusLine = `${status} ${statusText}`.trim();
  if (status < 200 || status > 299) {
    return errorOutcome(`upstream answered ${statusLine}: ${bodyExcerpt(body, answer.contentType)}`, status);
  }
  const declared = mapping.result ?? { as: 'auto' };
  if (body.length === 0 && declared.as !== 'resource') return success([{ type: 'text', text: '' }], status);
  const upstreamType = parseContentType(answer.contentType);
  const essence = declared.mimeType ?? upstreamType.essence;
  const { charset } = upstreamType;
  const uri = declared.uri ?? answer.url;

  // JSON objects become structured content whatever the wrapping, when the tool declares an output schema.
  let structured: Record<string, unknown> | undefined;
  let jsonText: string | undefined;
  if (isJson(essence)) {
    // Checked on the bytes before parsing: what handles a parsed value later recurses per level.
    if (exceedsJsonDepth(body)) {
      return errorOutcome(`upstream answered ${statusLine} with JSON nested deeper than ${MAX_JSON_DEPTH} levels; not passed on`, status);
    }
    // RFC 8259 §8.1: JSON exchanged between systems is UTF-8, whatever the charset parameter says.
    jsonText = decodeText(body, 'utf-8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(jsonText);
    } catch {
      return errorOutcome(`upstream answered ${statusLine} with invalid JSON: ${bodyExcerpt(body, answer.contentType)}`, status);
    }
    const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
    if (mapping.hasOutputSchema && isObject) structured = parsed as Record<string, unknown>;
  }

  switch (declared.as) {
    case 'text':
      return success([{ type: 'text', text: jsonText ?? decodeText(body, charset) }], status, structured);
    case 'resource':
      return success([resourceBlock(uri, essence, charset, body)], status, structured);
    case 'image':
    case 'audio': {
      if (!essence.startsWith(`${declared.as}/`)) {
        const got = essence === '' ? 'no content type' : essence;
        return errorOutcome(
          `upstream answered ${got}, not ${declared.as} content; declare the type in the tool's ext_info.result.mime_type`,
          status,
        );
      }
      return success([{ type: declared.as, data: body.toString('base64'), mimeType: essence }], status, structured);
    }
    case 'auto':
      break;
  }
  if (jsonText !== undefined) return success([{ type: 'text', text: jsonText }], status, structured);
  if (essence === 'multipart/mixed' || essence === 'multipart/related') {
    const boundary = multipartBoundary(answer.contentType);
    const parts = boundary === undefined ? undefined : parseMultipart(body, boundary);
    if (parts === undefined) {
      const problem = `upstream answered ${statusLine} with a ${essence} body that could not be read`;
      return errorOutcome(`${problem} (no boundary or no complete part)`, status);
    }
    return success(parts.map((part, index) => partBlock(part, index, answer.url)), status);
  }
  return success([autoBlock(body, essence, charset, uri)], status);
}

/**
 * Maps what an upstream event stream amounted to (see event-stream.ts): a `result` event is mapped
 * like a JSON answer when it parses as JSON and like text otherwise, so `output_schema` and
 * `ext_info.result` apply to it as to any answer.
 */
export function mapEventStreamOutcome(
  outcome: EventStreamOutcome,
  answer: Omit<UpstreamAnswer, 'body' | 'contentType'>,
  mapping: ResponseMapping,
): ToolCallOutcome {
  const { status } = answer;
  switch (outcome.kind) {
    case 'error':
      return errorOutcome(`upstream reported an error: ${bodyExcerpt(Buffer.from(outcome.message), 'text/plain')}`, status);
    case 'empty':
      return errorOutcome('upstream event stream ended without a result event', status);
    case 'messages':
      return mapUpstreamAnswer({ ...answer, contentType: 'text/plain; charset=utf-8', body: Buffer.from(outcome.data) }, mapping);
    case 'result': {
      let json = true;
      try {
        JSON.parse(outcome.data);
      } catch {
        json = false;
      }
      const contentType = json ? 'application/json' : 'text/plain; charset=utf-8';
      return mapUpstreamAnswer({ ...answer, contentType, body: Buffer.from(outcome.data) }, mapping);
    }
  }
}
