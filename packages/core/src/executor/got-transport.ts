import http from 'node:http';
import https from 'node:https';
import got, { MaxRedirectsError, RequestError, TimeoutError, type PlainResponse } from 'got';
import {
  CONNECT_TIMEOUT_MS,
  MAX_REDIRECTS,
  redirectTarget,
  TransportError,
  type Fetched,
  type Transport,
  type TransportLimits,
  type TransportOptions,
} from './transport.js';
import type { BuiltRequest } from './request-builder.js';
import { BodyTooLargeError, createBodySink, type BodySink } from './body-sink.js';
import { findEgressDenial } from './egress-lookup.js';

// got ends a bodiless stream request by itself only for these; the others wait for a piped body.
const SELF_ENDING_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** Thrown inside the stream handler when the decoded body passes the cap. */
class ResponseTooLargeError extends Error {}

/** got's failures in transport-neutral terms. */
function classify(error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  if (error instanceof ResponseTooLargeError) return new TransportError({ kind: 'too-large' });
  if (error instanceof TimeoutError) {
    return new TransportError({ kind: error.event === 'request' ? 'timeout' : 'connect-timeout' });
  }
  if (error instanceof MaxRedirectsError) return new TransportError({ kind: 'too-many-redirects' });
  const denial = findEgressDenial(error);
  if (denial !== undefined) return new TransportError({ kind: 'egress-denied', denial });
  const code = error instanceof RequestError || (error instanceof Error && 'code' in error) ? (error as { code?: unknown }).code : undefined;
  return new TransportError({ kind: 'failed', code: typeof code === 'string' ? code : 'UNKNOWN' });
}

/**
 * The got transport, kept selectable next to undici: got's stream API over keep-alive agents.
 * got decompresses before the stream hands data out, so the cap counts decoded bytes and a gzip
 * bomb is cut off after inflation.
 */
export function createGotTransport(options: TransportOptions): Transport {
  // One pair per transport, so connections to an upstream are reused across calls and tools. An
  // agent's own options win over a request's when it opens a socket, so every connection uses `lookup`.
  const agents = {
    http: new http.Agent({ keepAlive: true, lookup: options.lookup }),
    https: new https.Agent({ keepAlive: true, lookup: options.lookup }),
  };

  function fetchOnce(request: BuiltRequest, limits: TransportLimits, signal: AbortSignal): Promise<Fetched> {
    const { method, body } = request;
    return new Promise((resolve, reject) => {
      const stream = got.stream(request.url, {
        method,
        headers: request.headers,
        // An empty body ends bodiless DELETE/PATCH/OPTIONS/POST/PUT requests (sent with content-length 0).
        body: body ?? (SELF_ENDING_METHODS.has(method) ? undefined : ''),
        allowGetBody: method === 'GET' && body !== undefined,
        agent: agents,
        retry: { limit: 0 },
        throwHttpErrors: false,
        decompress: true,
        followRedirect: (response: PlainResponse) => {
          const target = redirectTarget(response.headers.location, response.url);
          return target !== undefined && limits.follows(target);
        },
        maxRedirects: MAX_REDIRECTS,
        timeout: { request: limits.timeoutMs, connect: Math.min(limits.timeoutMs, CONNECT_TIMEOUT_MS) },
        signal,
      });
      let response: PlainResponse | undefined;
      let sink: BodySink | undefined;
      stream.once('response', (answer: PlainResponse) => {
        response = answer;
        limits.onStatus(answer.statusCode);
        sink = createBodySink(answer.statusCode, answer.headers['content-type'], limits.maxBytes, limits.onEvent);
      });
      stream.on('data', (chunk: Buffer) => {
        try {
          sink?.push(chunk);
        } catch (error) {
          reject(error instanceof BodyTooLargeError ? new ResponseTooLargeError() : error);
          stream.destroy();
        }
      });
      stream.on('error', reject);
      stream.once('end', () => {
        if (response === undefined) {
          reject(new Error('upstream stream ended without a response'));
          return;
        }
        const { body: read, streamed } = sink?.finish() ?? { body: Buffer.alloc(0), streamed: false };
        resolve({
          answer: {
            status: response.statusCode,
            statusText: response.statusMessage ?? '',
            contentType: response.headers['content-type'],
            body: read,
            url: response.url,
          },
          location: response.headers.location,
          headers: response.headers,
          streamed,
        });
      });
      // A stream destroyed without an error emits neither 'end' nor 'error'; settle anyway (no-op otherwise).
      stream.once('close', () =>
        reject(Object.assign(new Error('upstream stream closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })),
      );
    });
  }

  return {
    async fetch(request, limits) {
      // got takes an AbortSignal: one made for this request, aborted with the call.
      const abort = new AbortController();
      const stopListening = limits.cancellation.onAbort(() => abort.abort());
      try {
        return await fetchOnce(request, limits, abort.signal);
      } catch (error) {
        throw classify(error);
      } finally {
        stopListening();
      }
    },
    async close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
