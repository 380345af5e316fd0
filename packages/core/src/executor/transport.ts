import type { CallCancellation } from '@dynmcp/plugin';
import type { EgressDenial } from './egress-policy.js';
import type { ConnectLookup } from './egress-lookup.js';
import type { ServerSentEvent } from './event-stream.js';
import type { BuiltRequest } from './request-builder.js';
import type { UpstreamAnswer } from './response-mapper.js';

/** How many redirects a call follows before giving up. */
export const MAX_REDIRECTS = 5;
/** Connecting should never need long; the call's own timeout still bounds it when lower. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Statuses that redirect. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([300, 301, 302, 303, 307, 308]);

/** The limits one upstream call runs under. */
export interface TransportLimits {
  /**
   * Whether a redirect to `target` is followed: the executor allows only the tool's origin and path
   * prefix. A redirect not followed is returned as the final answer.
   */
  follows(target: URL): boolean;
  timeoutMs: number;
  /** Cap of the decoded body. */
  maxBytes: number;
  /** The call's cancellation: aborts the request in flight. */
  cancellation: CallCancellation;
  /** Called once the final answer's status is known, so failures while reading the body can report it. */
  onStatus(status: number): void;
  /**
   * Called with each event of a 2xx `text/event-stream` answer as it arrives; such an answer's
   * body is not kept (see body-sink.ts). Without it, event streams are read like any body.
   */
  onEvent?(event: ServerSentEvent): void;
}

/** What a transport returns: the final answer and its `location` header (for a refused redirect). */
export interface Fetched {
  /** The final answer; its body is empty when it was an event stream read through `onEvent`. */
  answer: UpstreamAnswer;
  location: string | undefined;
  /**
   * The final answer's headers as the client parsed them (a reference, no copy), for the admin
   * API's test calls (see `UpstreamObserver` in dry-run.ts); results never carry them.
   */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The answer was an event stream whose events went to `onEvent`. */
  streamed?: boolean;
}

/** Why a call failed, in transport-neutral terms (messages of HTTP clients hold URLs: not kept). */
export type TransportFailure =
  | { kind: 'too-large' }
  | { kind: 'timeout' }
  | { kind: 'connect-timeout' }
  | { kind: 'too-many-redirects' }
  | { kind: 'egress-denied'; denial: EgressDenial }
  | { kind: 'failed'; code: string };

/** A failed call; `failure` says why. */
export class TransportError extends Error {
  constructor(readonly failure: TransportFailure) {
    super(failure.kind === 'failed' ? `upstream request failed: ${failure.code}` : failure.kind);
    this.name = 'TransportError';
  }
}

/** Options of both transports. */
export interface TransportOptions {
  /**
   * The `lookup` of every new connection: the egress policy's check of each resolved address,
   * which also pins the connection to the addresses checked (see egress-lookup.ts).
   */
  lookup: ConnectLookup;
}

/**
 * How the http executor talks to upstreams. Both implementations keep connections alive, follow
 * at most {@link MAX_REDIRECTS} redirects and only those `limits.follows` allows, bound the whole call by
 * `timeoutMs`, honour `cancellation`, and stop reading as soon as the decoded body passes `maxBytes`.
 */
export interface Transport {
  fetch(request: BuiltRequest, limits: TransportLimits): Promise<Fetched>;
  close(): Promise<void>;
}

/**
 * A transport whose module is loaded on its first call, for a client most gateways never use:
 * loading got and its dependencies costs start-up about 0.1 s.
 */
export function loadedOnFirstUse(load: () => Promise<Transport>): Transport {
  let loading: Promise<Transport> | undefined;
  return {
    async fetch(request, limits) {
      loading ??= load();
      return (await loading).fetch(request, limits);
    },
    async close() {
      if (loading !== undefined) await (await loading).close();
    },
  };
}

/** The origin `location` points to, relative to `base`, or `undefined` when it does not parse. */
export function redirectTarget(location: string | undefined, base: string): URL | undefined {
  if (location === undefined) return undefined;
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}
