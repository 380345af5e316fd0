import { isUtf8 as isUtf8Bytes } from 'node:buffer';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { GatewayError } from '@dynmcp/plugin';
import { charsetRefusal } from '../http/charset.js';
import { assertJsonShape, MAX_ADMIN_JSON_DEPTH } from './json-body-guard.js';
import { NotJsonError, parseJsonInSlices } from './sliced-json.js';

/**
 * Bodies above this size are checked and parsed in slices (see sliced-json.ts); smaller ones in one
 * go, a few milliseconds at most.
 */
export const SLICED_BODY_BYTES = 128 * 1024;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const notJson = (cause?: unknown) => new GatewayError('INVALID_JSON', 'request body is not valid JSON', { cause });

/** Refuses, before the body is read, a body in another charset than UTF-8 (RFC 8259 § 8.1). */
function requireUtf8(req: Request, _res: Response, next: NextFunction): void {
  const refusal = charsetRefusal(req.headers);
  next(refusal === undefined ? undefined : new GatewayError('UNSUPPORTED_MEDIA_TYPE', refusal));
}

/** Parses the raw body express.raw left in `req.body`: depth and duplicate keys checked first, as JSON.parse would read it. */
function parseBody(maxDepth: number): RequestHandler {
  return (req, _res, next) => {
    const raw: unknown = req.body;
    // No body at all (no Content-Length, not chunked): nothing to parse, as express.json leaves it.
    if (!Buffer.isBuffer(raw)) {
      next();
      return;
    }
    const body = raw.subarray(0, 3).equals(UTF8_BOM) ? raw.subarray(3) : raw;
    // An empty body reads as {}, as express.json reads it.
    if (body.length === 0) {
      req.body = {};
      next();
      return;
    }
    // Decoding would replace each broken sequence with U+FFFD and store text nobody sent.
    if (!isUtf8Bytes(body)) {
      next(new GatewayError('INVALID_JSON', 'request body is not valid UTF-8: send JSON encoded as UTF-8'));
      return;
    }
    if (body.length > SLICED_BODY_BYTES) {
      parseJsonInSlices(body, maxDepth).then(
        (value) => {
          req.body = value;
          next();
        },
        (error: unknown) => next(error instanceof NotJsonError ? notJson(error) : error),
      );
      return;
    }
    try {
      assertJsonShape(body, maxDepth);
      req.body = JSON.parse(body.toString('utf8')) as unknown;
    } catch (error) {
      next(error instanceof SyntaxError ? notJson(error) : error);
      return;
    }
    next();
  };
}

/**
 * The JSON body of an admin request, within `limitBytes` (413 above, counted after any
 * Content-Encoding is undone), in UTF-8 (415 for another charset, 400 `INVALID_JSON` for bytes that
 * are not UTF-8), nested at most `maxDepth` levels
 * (`PAYLOAD_TOO_DEEP`), without a key twice in one object (`DUPLICATE_KEY`), and JSON (400
 * `INVALID_JSON`). Bodies of megabytes (a batch of a thousand tools, an API document) are checked
 * and parsed in slices, so the event loop keeps serving /mcp meanwhile.
 */
export function adminJsonBody(limitBytes: number, maxDepth = MAX_ADMIN_JSON_DEPTH): RequestHandler[] {
  return [requireUtf8, readRaw(limitBytes), parseBody(maxDepth)];
}

/**
 * A JSON body the client may leave out, for a POST whose fields all default. A request that sends
 * none (no Content-Length above 0, not chunked: `curl -X POST` without `-d`, which sends no
 * Content-Type either) reads as `{}` unchecked; one that sends a body goes through `body`, the
 * route's usual checks (Content-Type, charset, size, JSON).
 */
export function optionalJsonBody(body: RequestHandler[]): RequestHandler {
  const parseSent = express.Router().use(body);
  return (req, res, next) => {
    const sent = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (sent) {
      parseSent(req, res, next);
      return;
    }
    req.body = {};
    next();
  };
}

/**
 * express.raw, with the failure to undo a Content-Encoding (bytes that are not the gzip, deflate or
 * brotli they claim, or cut short) answered as the client's mistake it is, not as an internal error.
 */
function readRaw(limitBytes: number): RequestHandler {
  const raw = express.raw({ limit: limitBytes, type: () => true });
  return (req, res, next) => {
    raw(req, res, (error?: unknown) => {
      const encoding = req.headers['content-encoding']?.trim().toLowerCase() ?? 'identity';
      const status = (error as { status?: unknown } | undefined)?.status;
      if (error !== undefined && status === 400 && encoding !== 'identity' && (error as { type?: unknown }).type === undefined) {
        next(new GatewayError('INVALID_JSON', `request body does not decode as its Content-Encoding (${encoding}) says; send it whole, or uncompressed`, { cause: error }));
        return;
      }
      next(error);
    });
  };
}
