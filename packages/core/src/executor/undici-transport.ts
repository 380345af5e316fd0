import { EventEmitter } from 'node:events';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent } from 'undici';
import { BodyTooLargeError, createBodySink, type BodySink } from './body-sink.js';
import { findEgressDenial } from './egress-lookup.js';
import type { BuiltRequest } from './request-builder.js';
import {
  CONNECT_TIMEOUT_MS,
  MAX_REDIRECTS,
  REDIRECT_STATUSES,
  redirectTarget,
  TransportError,
  type Fetched,
  type Transport,
  type TransportLimits,
  type TransportOptions,
} from './transport.js';

/** Undici error codes that mean "took too long". */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Decodes a `content-encoding` the way browsers and got do; identity and unknown pass through. */
function decoded(body: Readable, encoding: string | undefined): Readable {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return body.pipe(createGunzip());
    case 'deflate':
      return body.pipe(createInflate());
    case 'br':
      return body.pipe(createBrotliDecompress());
    default:
      return body;
  }
}

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * The request's headers and the encodings the transport decodes. Copied with Object.assign: on
 * Node 20, `{ ...headers, key: value }` costs several times as much, on every call.
 */
function withAcceptEncoding(headers: BuiltRequest['headers']): Record<string, string> {
  const sent: Record<string, string> = Object.assign({}, headers);
  sent['accept-encoding'] = 'gzip, deflate, br';
  return sent;
}

/**
 * What aborts one upstream request: an EventEmitter with `aborted` and `reason`, which undici takes
 * as a request's `signal` as it takes an AbortSignal. An AbortController's signal is an EventTarget,
 * several times dearer to make and to listen on, and the hot path needs one per call.
 */
class AbortHandle extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException('This operation was aborted', 'AbortError');
    this.emit('abort');
  }
}

/**
 * Reads an undecoded body into `sink` as it arrives. A plain body needs no pull: the sink keeps
 * every chunk anyway and stops the stream at its cap, so listening is enough, and it spares the
 * hot path an async iterator with a promise per chunk. A stream that closes before its end (the
 * call was cancelled, the connection broke) fails as the iterator would.
 */
function readInto(sink: BodySink, body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    let ended = false;
    body.on('data', (chunk: Buffer) => {
      if (ended) return;
      try {
        sink.push(chunk);
      } catch (error) {
        ended = true;
        body.destroy();
        reject(error instanceof BodyTooLargeError ? new TransportError({ kind: 'too-large' }) : error);
      }
    });
    body.once('end', () => {
      ended = true;
      resolve();
    });
    body.once('error', (error) => {
      ended = true;
      reject(error);
    });
    body.once('close', () => {
      if (!ended) reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
  });
}

/**
 * The undici transport: one keep-alive connection pool per origin, redirects followed by hand
 * (where `limits.follows` allows), bodies decompressed by zlib and counted after decoding. It costs a
 * fraction of got's CPU per call (see docs/performance.md), which is most of a gateway's own work.
 * The zlib stream is pulled chunk by chunk and honours backpressure, so inflating stops at the cap.
 */
export function createUndiciTransport(options: TransportOptions): Transport {
  // `connect` options reach net.connect/tls.connect as they are, `lookup` included.
  const agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: CONNECT_TIMEOUT_MS, lookup: options.lookup } });

  async function fetchBounded(request: BuiltRequest, limits: TransportLimits, signal: AbortHandle): Promise<Fetched> {
    let url = request.url;
    let method: string = request.method;
    let body = request.body;
    for (let hop = 0; ; hop += 1) {
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers: withAcceptEncoding(request.headers),
        body,
        signal,
        headersTimeout: limits.timeoutMs,
        bodyTimeout: limits.timeoutMs,
      });
      const location = header(response.headers.location);
      const target = REDIRECT_STATUSES.has(response.statusCode) ? redirectTarget(location, url.href) : undefined;
      if (target !== undefined && limits.follows(target)) {
        await response.body.dump();
        if (hop >= MAX_REDIRECTS) throw new TransportError({ kind: 'too-many-redirects' });
        // RFC 9110 §15.4: 303, and in practice 301/302 after POST, continue as GET without a body.
        if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = target;
        continue;
      }
      limits.onStatus(response.statusCode);
      const contentType = header(response.headers['content-type']);
      const sink = createBodySink(response.statusCode, contentType, limits.maxBytes, limits.onEvent);
      const encoding = header(response.headers['content-encoding']);
      if (encoding === undefined) await readInto(sink, response.body);
      else {
        const stream = decoded(response.body, encoding);
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          try {
            sink.push(chunk);
          } catch (error) {
            stream.destroy();
            response.body.destroy();
            throw error instanceof BodyTooLargeError ? new TransportError({ kind: 'too-large' }) : error;
          }
        }
      }
      const { body: read, streamed } = sink.finish();
      return {
        answer: {
          status: response.statusCode,
          statusText: STATUS_CODES[response.statusCode] ?? '',
          contentType,
          body: read,
          url: url.href,
        },
        location,
        headers: response.headers,
        streamed,
      };
    }
  }

  return {
    async fetch(request, limits) {
      // One abort handle for the caller's cancellation and the whole-call deadline (undici's own
      // timeouts are per phase and coarse); cheaper than AbortSignal.timeout + AbortSignal.any.
      const abortion = new AbortHandle();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abortion.abort();
      }, limits.timeoutMs);
      const cancel = () => abortion.abort();
      if (limits.signal.aborted) abortion.abort();
      else limits.signal.addEventListener('abort', cancel, { once: true });
      try {
        return await fetchBounded(request, limits, abortion);
      } catch (error) {
        if (error instanceof TransportError) throw error;
        const denial = findEgressDenial(error);
        if (denial !== undefined) throw new TransportError({ kind: 'egress-denied', denial });
        const code = (error as { code?: unknown }).code;
        const name = (error as { name?: unknown }).name;
        if (timedOut || TIMEOUT_CODES.has(code as string)) throw new TransportError({ kind: 'timeout' });
        if (code === 'UND_ERR_CONNECT_TIMEOUT') throw new TransportError({ kind: 'connect-timeout' });
        throw new TransportError({ kind: 'failed', code: typeof code === 'string' ? code : typeof name === 'string' ? name : 'UNKNOWN' });
      } finally {
        clearTimeout(timer);
        limits.signal.removeEventListener('abort', cancel);
      }
    },
    async close() {
      await agent.destroy();
    },
  };
}
