/**
 * Encoders of a tool's `body` argument for the form content types of `ext_info.body.content_type`
 * (docs/tool-definition.md, "Request bodies"). JSON bodies are plain `JSON.stringify` in
 * request-builder.ts. Every refusal is a message meant for the model; nothing here does I/O.
 */
import { randomBytes } from 'node:crypto';

/** An encoded body with the `content-type` it must be sent with. */
export type EncodedBody = { ok: true; body: string | Buffer; contentType: string } | { ok: false; message: string };

/** Deepest nesting of a form-encoded object (`a[b][c]=…` counts 3). */
export const MAX_FORM_DEPTH = 8;
/** Keys of a file value of a multipart body: `{ "filename", "content_base64", "content_type" }`. */
const FILE_KEYS: ReadonlySet<string> = new Set(['filename', 'content_base64', 'content_type']);
// RFC 6838 §4.2 type/subtype, parameters allowed but no line breaks or quotes that could end the header.
const PART_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:\s*;[^\r\n"]*)?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isScalar = (value: unknown): value is string | number | boolean =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/**
 * `application/x-www-form-urlencoded` (WHATWG URL, "application/x-www-form-urlencoded
 * serializing"): scalars as `key=value`, arrays as repeated keys (`tag=a&tag=b`), nested objects
 * deepObject-style (`meta[plan]=pro`, the bracket form Rails, PHP and Stripe-like APIs parse),
 * `null` left out. An array holding objects or arrays has no common encoding: refused.
 */
export function encodeForm(body: unknown): EncodedBody {
  if (!isPlainObject(body)) return { ok: false, message: 'argument "body" must be an object to be sent as application/x-www-form-urlencoded' };
  const params = new URLSearchParams();
  const add = (key: string, value: unknown, depth: number): string | undefined => {
    if (value === null || value === undefined) return undefined;
    if (isScalar(value)) {
      params.append(key, String(value));
      return undefined;
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        if (item === null || item === undefined) continue;
        if (!isScalar(item)) return `body property "${key}" is an array holding objects or arrays, which form encoding cannot send`;
        params.append(key, String(item));
      }
      return undefined;
    }
    if (depth >= MAX_FORM_DEPTH) return `body property "${key}" is nested deeper than ${MAX_FORM_DEPTH} levels`;
    for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
      const problem = add(`${key}[${name}]`, item, depth + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
  for (const [key, value] of Object.entries(body)) {
    const problem = add(key, value, 1);
    if (problem !== undefined) return { ok: false, message: problem };
  }
  return { ok: true, body: params.toString(), contentType: 'application/x-www-form-urlencoded' };
}

interface FileValue {
  filename: string;
  content: Buffer;
  contentType: string;
}

/** A `{ filename?, content_base64, content_type? }` value as a file, a message when it is malformed, else `undefined`. */
function fileOf(value: unknown, name: string): FileValue | string | undefined {
  if (!isPlainObject(value) || !Object.hasOwn(value, 'content_base64') || !Object.keys(value).every((key) => FILE_KEYS.has(key))) {
    return undefined;
  }
  const { filename = name, content_base64: base64, content_type: contentType = 'application/octet-stream' } = value;
  if (typeof base64 !== 'string' || !BASE64.test(base64.replace(/\s+/g, ''))) return `body property "${name}": content_base64 must be base64 text`;
  if (typeof filename !== 'string' || filename === '' || filename.length > 255) return `body property "${name}": filename must be a string of 1 to 255 characters`;
  if (typeof contentType !== 'string' || !PART_TYPE.test(contentType)) return `body property "${name}": content_type must be a media type such as "image/png"`;
  return { filename, content: Buffer.from(base64, 'base64'), contentType };
}

// RFC 7578 §4.2 leaves escaping of names to the HTML rules, which percent-encode `"`, CR and LF.
const quoted = (text: string): string => `"${text.replace(/[\r\n"]/g, (char) => encodeURIComponent(char))}"`;

/**
 * `multipart/form-data` (RFC 7578) with a random boundary: one part per top-level property, `null`
 * left out. A string, number or boolean is a text part; a file value `{ "filename", "content_base64",
 * "content_type" }` (only `content_base64` required) is a file part with those bytes, and an array
 * of file values one file part each under the same name; any other object or array is a part of
 * type `application/json`.
 */
export function encodeMultipart(body: unknown): EncodedBody {
  if (!isPlainObject(body)) return { ok: false, message: 'argument "body" must be an object to be sent as multipart/form-data' };
  const boundary = `dynmcp-${randomBytes(16).toString('hex')}`;
  const chunks: Buffer[] = [];
  const part = (name: string, headers: string, content: string | Buffer) => {
    chunks.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name=${quoted(name)}${headers}\r\n\r\n`));
    chunks.push(typeof content === 'string' ? Buffer.from(content) : content);
    chunks.push(Buffer.from('\r\n'));
  };
  for (const [name, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    if (isScalar(value)) {
      part(name, '', String(value));
      continue;
    }
    const items = Array.isArray(value) && value.length > 0 ? value : [value];
    const files = items.map((item) => fileOf(item, name));
    const problem = files.find((file): file is string => typeof file === 'string');
    if (problem !== undefined) return { ok: false, message: problem };
    if (files.every((file) => file !== undefined)) {
      for (const file of files as FileValue[]) {
        part(name, `; filename=${quoted(file.filename)}\r\ncontent-type: ${file.contentType}`, file.content);
      }
      continue;
    }
    part(name, '\r\ncontent-type: application/json', JSON.stringify(value));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { ok: true, body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
