import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
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

/**
 * How much of a followed redirect's body is read before its connection is dropped instead, as
 * undici's own `body.dump()` does: reading a small body keeps the connection for the next hop.
 */
const REDIRECT_BODY_LIMIT = 128 * 1024;

/** The decoder of a `content-encoding` the way browsers and got decode; identity and unknown pass through. */
function decoderFor(encoding: string | undefined): Transform | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
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
 * One request and its answer, as an undici dispatch handler. Undici hands it the answer's head and
 * its chunks as they come off the socket; a plain body goes straight into the sink, an encoded one
 * through zlib first. That spares each call the body stream, the async resource and the abort
 * wiring of `agent.request`: about a sixth of the transport's CPU per small call. The handler
 * settles once: with the whole answer read, or with the first failure (which also aborts the
 * request and its connection).
 */
class Exchange implements Dispatcher.DispatchHandler {
  status = 0;
  headers: IncomingHttpHeaders = {};
  location: string | undefined;
  contentType: string | undefined;
  /** Where a followed redirect leads; its body is discarded. */
  redirect: URL | undefined;
  sink: BodySink | undefined;
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (error: unknown) => void;
  private settled = false;
  private failure: Error | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private decoder: Transform | undefined;
  private discarded = 0;

  constructor(
    private readonly url: URL,
    private readonly limits: TransportLimits,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Cancelled while waiting for a connection: stop before anything is sent.
    if (this.failure !== undefined) controller.abort(this.failure);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    // Informational answers (1xx) precede the real one.
    if (status < 200 || this.settled) return;
    this.status = status;
    this.headers = headers;
    this.location = header(headers.location);
    const target = REDIRECT_STATUSES.has(status) ? redirectTarget(this.location, this.url.href) : undefined;
    if (target !== undefined && this.limits.follows(target)) {
      this.redirect = target;
      return;
    }
    this.limits.onStatus(status);
    this.contentType = header(headers['content-type']);
    this.sink = createBodySink(status, this.contentType, this.limits.maxBytes, this.limits.onEvent);
    const decoder = decoderFor(header(headers['content-encoding']));
    if (decoder === undefined) return;
    // Flowing, so zlib's output goes to the sink as it is made; zlib's input side pauses the
    // socket when it is full, so inflating stops at the cap instead of running ahead of it.
    this.decoder = decoder;
    decoder.on('data', (chunk: Buffer) => this.take(chunk));
    decoder.once('end', () => this.succeed());
    decoder.once('error', (error) => this.fail(error));
    decoder.on('drain', () => controller.resume());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    if (this.redirect !== undefined) {
      this.discarded += chunk.length;
      if (this.discarded > REDIRECT_BODY_LIMIT) {
        // Done with it: the next hop opens another connection.
        this.succeed();
        controller.abort(new Error('redirect body discarded'));
      }
      return;
    }
    if (this.decoder === undefined) this.take(chunk);
    else if (!this.decoder.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    if (this.settled) return;
    if (this.decoder === undefined) this.succeed();
    else this.decoder.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Ends the exchange with `error` (a cancellation, the cap, a broken connection); later events are ignored. */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.failure = error;
    this.controller?.abort(error);
    this.decoder?.destroy();
    this.reject(error);
  }

  private take(chunk: Buffer): void {
    if (this.settled) return;
    try {
      this.sink?.push(chunk);
    } catch (error) {
      this.fail(error instanceof BodyTooLargeError ? new TransportError({ kind: 'too-large' }) : (error as Error));
    }
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve();
  }
}

/**
 * What ends one request early, whichever comes first: the call's cancellation or the whole-call
 * deadline. It fails the exchange in flight, which aborts its request; cheaper than an
 * AbortController per call.
 */
class RequestAbort {
  aborted = false;
  exchange: Exchange | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.exchange?.fail(new DOMException('This operation was aborted', 'AbortError'));
  }
}

/**
 * The undici transport: one keep-alive connection pool per origin, redirects followed by hand
 * (where `limits.follows` allows), bodies decompressed by zlib and counted after decoding. It costs a
 * fraction of got's CPU per call (see docs/performance.md), which is most of a gateway's own work.
 */
export function createUndiciTransport(options: TransportOptions): Transport {
  // `connect` options reach net.connect/tls.connect as they are, `lookup` included.
  const agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: CONNECT_TIMEOUT_MS, lookup: options.lookup } });

  async function fetchBounded(request: BuiltRequest, limits: TransportLimits, abort: RequestAbort): Promise<Fetched> {
    let url = request.url;
    let method: string = request.method;
    let body = request.body;
    for (let hop = 0; ; hop += 1) {
      if (abort.aborted) throw new DOMException('This operation was aborted', 'AbortError');
      const exchange = new Exchange(url, limits);
      abort.exchange = exchange;
      agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: method as Dispatcher.HttpMethod,
          headers: withAcceptEncoding(request.headers),
          body,
          // The call's own deadline (in `fetch` below) bounds the wait for the head and the body
          // alike. undici's per-phase timers are "fast timers": a cleared one stays in undici's list
          // until its next half-second tick, two per call, so a busy gateway kept tens of thousands
          // of them alive and scanned them twice a second (about a tenth of its CPU on tools/call).
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        exchange,
      );
      await exchange.done;
      const { status, location, redirect } = exchange;
      if (redirect !== undefined) {
        if (hop >= MAX_REDIRECTS) throw new TransportError({ kind: 'too-many-redirects' });
        // RFC 9110 §15.4: 303, and in practice 301/302 after POST, continue as GET without a body.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
        }
        url = redirect;
        continue;
      }
      const { body: read, streamed } = (exchange.sink as BodySink).finish();
      return {
        answer: { status, statusText: STATUS_CODES[status] ?? '', contentType: exchange.contentType, body: read, url: url.href },
        location,
        headers: exchange.headers,
        streamed,
      };
    }
  }

  return {
    async fetch(request, limits) {
      // One abort for the call's cancellation and the whole-call deadline (undici's own timeouts
      // are per phase, coarse, and off: see the dispatch above); cheaper than AbortSignal.timeout +
      // AbortSignal.any.
      const abort = new RequestAbort();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, limits.timeoutMs);
      const stopListening = limits.cancellation.onAbort(() => abort.abort());
      try {
        return await fetchBounded(request, limits, abort);
      } catch (error) {
        if (error instanceof TransportError) throw error;
        const denial = findEgressDenial(error);
        if (denial !== undefined) throw new TransportError({ kind: 'egress-denied', denial });
        const code = (error as { code?: unknown }).code;
        const name = (error as { name?: unknown }).name;
        if (timedOut) throw new TransportError({ kind: 'timeout' });
        if (code === 'UND_ERR_CONNECT_TIMEOUT') throw new TransportError({ kind: 'connect-timeout' });
        throw new TransportError({ kind: 'failed', code: typeof code === 'string' ? code : typeof name === 'string' ? name : 'UNKNOWN' });
      } finally {
        clearTimeout(timer);
        stopListening();
      }
    },
    async close() {
      await agent.destroy();
    },
  };
}
