import type { Request, RequestHandler, Response } from 'express';
import type { AppliedEvent, LiveDefinitions } from '@dynmcp/common';
import { GatewayError, type Logger } from '@dynmcp/plugin';

/** What one record of a change message names: its kind and id, never its content. */
export interface ChangedRecord {
  kind: 'tool' | 'instance';
  id: string;
  op: 'put' | 'delete';
}

/** Options of {@link createAdminEvents}. */
export interface AdminEventsOptions {
  definitions: LiveDefinitions;
  logger: Logger;
  /** Open streams allowed in all (default {@link DEFAULT_MAX_STREAMS}). */
  maxStreams?: number;
  /** Open streams allowed per principal (default {@link DEFAULT_MAX_STREAMS_PER_PRINCIPAL}). */
  maxStreamsPerPrincipal?: number;
  /** Interval of the `: ping` comment that keeps proxies from closing an idle stream (default 15 s). */
  pingIntervalMs?: number;
  /** How many recent revisions' change lists are kept for resuming streams (default 1,000). */
  historySize?: number;
}

/** `GET /admin/events` and what the gateway needs to count and end its streams. */
export interface AdminEvents {
  /** Serves one stream; mount it behind the admin authentication (it reads `req.principal`). */
  readonly handler: RequestHandler;
  /** Streams open right now. */
  streamCount(): number;
  /** Ends every stream and stops following the definitions; later requests are ended at once. */
  close(): Promise<void>;
}

/** A browser console needs a few tabs, a script one stream: enough for both, not for a flood. */
export const DEFAULT_MAX_STREAMS_PER_PRINCIPAL = 10;
export const DEFAULT_MAX_STREAMS = 100;
const DEFAULT_PING_INTERVAL_MS = 15_000;
const DEFAULT_HISTORY_SIZE = 1_000;
/**
 * A client that stops reading while changes keep coming has its stream ended once this much is
 * waiting unsent; it resumes from its last event id (or gets `reset`) when it reads again.
 */
const MAX_BUFFERED_BYTES = 1 << 20;

const KINDS: Readonly<Record<string, ChangedRecord['kind']>> = { tds: 'tool', ids: 'instance' };

/** One revision's message as sent, encoded once for every stream. */
interface Entry {
  revision: number;
  message: string;
}

interface Stream {
  res: Response;
  principal: string;
  /** Opened before this replica loaded its definitions: gets nothing until its `ready`. */
  waiting: boolean;
}

const frame = (event: string, revision: number, data: unknown) => `id: ${revision}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const resetFrame = (revision: number) => frame('reset', revision, { revision });

/**
 * The revision a client has seen, from `Last-Event-ID` (what a browser's EventSource sends when
 * it reconnects) or else `?since=` (for a first connection, which cannot set headers); the header
 * wins because it is the newer of the two when EventSource reconnects to a URL that has both.
 */
function resumeFrom(req: Request): number | undefined {
  const header = req.headers['last-event-id'];
  const [source, raw] = header !== undefined ? ['Last-Event-ID', header] : ['since', req.query.since];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw.trim())) {
    throw new GatewayError(
      'INVALID_PAYLOAD',
      `${source} must be a revision, a non-negative integer such as the id of the last event received; omit it to start from now`,
    );
  }
  return Number(raw.trim());
}

/**
 * The admin change stream, `GET /admin/events` (Server-Sent Events): one `change` message per
 * revision the live definitions apply, naming the tools and instances it put or deleted, so a
 * console or a script follows every write without polling. It follows this replica's live
 * definitions, not the store, so a stream shows what this replica serves, wherever the write was
 * made. The last `historySize` revisions' messages are kept to replay to a client that resumes;
 * a client further behind, or ahead (another store, a restored backup), or any client when the
 * feed replaced everything with a new snapshot, gets `reset` and reloads.
 */
export function createAdminEvents(options: AdminEventsOptions): AdminEvents {
  const { definitions } = options;
  const logger = options.logger.child({ component: 'admin-events' });
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const maxPerPrincipal = options.maxStreamsPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL;
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const historySize = options.historySize ?? DEFAULT_HISTORY_SIZE;

  const streams = new Set<Stream>();
  const perPrincipal = new Map<string, number>();
  // Messages of the revisions after `complete`, oldest first: a client that has seen `complete` or
  // later can be brought up to date from here alone.
  const history: Entry[] = [];
  let complete = definitions.revision;
  let pinger: NodeJS.Timeout | undefined;
  let closed = false;

  /** Ends a stream and forgets it at once: nothing is written to an ended response. */
  function end(stream: Stream) {
    release(stream);
    stream.res.end();
  }

  function send(stream: Stream, text: string) {
    stream.res.write(text);
    if (stream.res.writableLength > MAX_BUFFERED_BYTES) {
      logger.warn('admin event stream ended: the client is not reading', { principal: stream.principal });
      end(stream);
    }
  }

  function broadcast(text: string) {
    for (const stream of streams) if (!stream.waiting) send(stream, text);
  }

  // A replica that has just started serves streams before its first snapshot is applied; their
  // `ready` waits for it, so a client resuming after a restart is not told revision 0 and reset.
  let markLoaded: (() => void) | undefined;
  const loaded = definitions.status().loaded ? Promise.resolve() : new Promise<void>((resolve) => (markLoaded = resolve));

  function onApplied(event: AppliedEvent) {
    if (event.type === 'snapshot') {
      history.length = 0;
      complete = event.revision;
      broadcast(resetFrame(event.revision));
      markLoaded?.();
      markLoaded = undefined;
      return;
    }
    // An event normally holds one revision; a poll that found several delivers them together.
    const byRevision = new Map<number, ChangedRecord[]>();
    for (const record of event.records) {
      const kind = KINDS[record.kind];
      if (kind === undefined) continue;
      let changes = byRevision.get(record.revision);
      if (changes === undefined) byRevision.set(record.revision, (changes = []));
      changes.push({ kind, id: record.id, op: record.deleted ? 'delete' : 'put' });
    }
    for (const [revision, changes] of [...byRevision].sort(([a], [b]) => a - b)) {
      const entry = { revision, message: frame('change', revision, { revision, changes }) };
      history.push(entry);
      broadcast(entry.message);
    }
    while (history.length > historySize) complete = history.shift()!.revision;
  }
  const unsubscribe = definitions.onApplied(onApplied);

  /** What a client that has seen `since` needs next: the revisions it missed, or `reset`. */
  function catchUp(since: number): string {
    const current = definitions.revision;
    if (since > current || since < complete) return resetFrame(current);
    return history
      .filter((entry) => entry.revision > since)
      .map((entry) => entry.message)
      .join('');
  }

  function admit(principal: string) {
    const mine = perPrincipal.get(principal) ?? 0;
    if (mine >= maxPerPrincipal) {
      throw new GatewayError('TOO_MANY_REQUESTS', `at most ${maxPerPrincipal} event streams per principal may be open; close one first`, {
        data: { max_streams_per_principal: maxPerPrincipal },
      });
    }
    if (streams.size >= maxStreams) {
      throw new GatewayError('TOO_MANY_REQUESTS', `the gateway serves at most ${maxStreams} event streams at once; try again later`, {
        data: { max_streams: maxStreams },
      });
    }
    perPrincipal.set(principal, mine + 1);
  }

  function release(stream: Stream) {
    if (!streams.delete(stream)) return;
    const left = (perPrincipal.get(stream.principal) ?? 1) - 1;
    if (left > 0) perPrincipal.set(stream.principal, left);
    else perPrincipal.delete(stream.principal);
    if (streams.size === 0 && pinger !== undefined) {
      clearInterval(pinger);
      pinger = undefined;
    }
  }

  const handler: RequestHandler = (req, res, next) => {
    try {
      const since = resumeFrom(req);
      const principal = req.principal?.id ?? 'anonymous';
      admit(principal);
      const stream: Stream = { res, principal, waiting: true };
      streams.add(stream);
      // `close` comes when the response ended (shutdown) or the client went away, whichever first.
      res.on('close', () => release(stream));
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      });
      res.flushHeaders();
      // A HEAD has no body to stream; a stopping gateway serves no new stream (clients reconnect elsewhere).
      if (closed || req.method === 'HEAD') {
        end(stream);
        return;
      }
      void loaded.then(() => {
        // Gone meanwhile (the client left, or the gateway stopped): nothing to say.
        if (!streams.has(stream)) return;
        stream.waiting = false;
        const current = definitions.revision;
        // One write, so the missed revisions follow `ready` before any live change can.
        res.write(frame('ready', current, { revision: current }) + (since === undefined ? '' : catchUp(since)));
        pinger ??= setInterval(() => broadcast(': ping\n\n'), pingIntervalMs).unref();
      });
    } catch (error) {
      next(error);
    }
  };

  return {
    handler,
    streamCount: () => streams.size,
    async close() {
      closed = true;
      unsubscribe();
      for (const stream of [...streams]) end(stream);
    },
  };
}
