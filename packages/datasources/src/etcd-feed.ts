import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import type { Change, FeedHandlers, FeedSubscription, Logger } from '@dynmcp/plugin';
import { describeEtcdError, etcdError } from './etcd-errors.js';
import { decodeRecord, prefixEnd, type EtcdKeys } from './etcd-keys.js';
import type { RangeSnapshot } from './etcd-records.js';
import { createFeedLoop, type FeedLoopTurn, type FeedState } from './feed-loop.js';

/** What an {@link createEtcdFeed} loop needs from its datasource. */
export interface EtcdFeedOptions {
  handlers: FeedHandlers;
  keys: EtcdKeys;
  /** One consistent read of everything under the prefix. */
  loadSnapshot(): Promise<RangeSnapshot>;
  /** A new raw gRPC watch stream (etcd3's `watchClient.watch()`), one per cycle. */
  openStream(): Promise<WatchStream>;
  /** Every change of this feed's state. */
  onState(state: FeedState): void;
  /** How long a new watcher may take to be created before the cycle starts over. */
  watchTimeoutMs: number;
  /** Pause before the first retry after a failure; doubles up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
}

/** The raw watch stream of etcd's v3 API. */
export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The watch loop of one `watch()`, a turn of {@link createFeedLoop} per cycle. Each cycle: read
 * everything at one revision R, deliver it as a snapshot, then watch from R+1 on a fresh gRPC
 * stream until it breaks. Any break (stream error or end, cancellation by etcd such as compaction,
 * a watch not created in time, a store whose revision went backwards) ends the cycle: the stream is
 * dropped and the next cycle starts with a full reload. etcd3's WatchManager is not used at all:
 * its resume moves the resume point past events it has not delivered and loses them, and it drops
 * a compacted watcher for good. Events are delivered one at a time, in order, from the loop and the
 * stream's callbacks, never concurrently.
 */
export function createEtcdFeed(options: EtcdFeedOptions): FeedSubscription {
  const { handlers, keys, logger } = options;
  let backoffMs = options.initialBackoffMs;
  let live = false;

  /** Turns one watch response into a `changes` event; returns a reason to resync, if any. */
  function onData(loop: FeedLoopTurn, response: IWatchResponse, applied: { revision: number }): Error | undefined {
    // A header behind what was applied means the store was replaced (a wipe, a restore): the
    // history this feed built on is gone (etcd3 #31).
    if (Number(response.header.revision) < applied.revision) return etcdError('DYNMCP_STORE_RESET');
    const changes: Change[] = [];
    let revision = applied.revision;
    for (const event of response.events) {
      const at = Number(event.kv.mod_revision);
      // Never go back in time, whatever a stream replays.
      if (at <= applied.revision) continue;
      revision = Math.max(revision, at);
      if (String(event.type).toLowerCase() === 'delete') {
        const parsed = keys.parse(event.kv.key.toString('utf8'));
        if (parsed !== undefined) changes.push({ type: 'delete', ...parsed, revision: at });
      } else {
        const record = decodeRecord(event.kv, keys, logger);
        if (record !== undefined) changes.push({ type: 'put', ...record });
      }
    }
    applied.revision = revision;
    // Progress notifications and keys outside the layout carry no change.
    if (changes.length > 0) loop.deliver({ type: 'changes', revision, changes });
    return undefined;
  }

  /**
   * Drops a stream. `end()` first: a stream that is no longer writable is not reported by etcd3's
   * error hook (rpc.js WatchClient) as a failed host when the cancellation surfaces as an error.
   */
  function release(stream: WatchStream): void {
    try {
      stream.end();
      stream.cancel();
    } catch {
      // Already gone.
    }
  }

  /** Watches from `applied.revision + 1` on a fresh stream; resolves with why the watch ended. */
  async function watchOnce(loop: FeedLoopTurn, applied: { revision: number }): Promise<unknown> {
    let stream: WatchStream | undefined;
    try {
      stream = await loop.untilClosed(options.openStream());
    } catch (error) {
      return error;
    }
    if (stream === undefined) return undefined;
    const ended = deferred<unknown>();
    let finished = false;
    const finish = (reason: unknown) => {
      if (finished) return;
      finished = true;
      ended.resolve(reason);
    };
    const timer = setTimeout(() => finish(etcdError('DYNMCP_WATCH_TIMEOUT')), options.watchTimeoutMs);
    stream.on('data', (response: IWatchResponse) => {
      if (finished) return;
      if (response.canceled) {
        // Compaction past our start revision, or a permission change: the history we need is gone.
        const compacted = Number(response.compact_revision) > 0 || /compact/i.test(response.cancel_reason ?? '');
        finish(etcdError(compacted ? 'DYNMCP_COMPACTED' : 'DYNMCP_WATCH_CANCELED'));
        return;
      }
      if (response.created) {
        clearTimeout(timer);
        if (!live) {
          live = true;
          loop.report({ connected: true });
        }
      }
      const reason = onData(loop, response, applied);
      if (reason !== undefined) finish(reason);
    });
    stream.on('error', (error: Error) => finish(etcdError('DYNMCP_CONNECTION_LOST', error)));
    stream.on('end', () => finish(etcdError('DYNMCP_CONNECTION_LOST')));
    const start = Buffer.from(keys.root);
    stream.write({
      create_request: { key: start, range_end: prefixEnd(start), start_revision: applied.revision + 1, progress_notify: true },
    });
    const reason = await loop.untilClosed(ended.promise);
    finished = true;
    clearTimeout(timer);
    release(stream);
    return reason;
  }

  /** One cycle: load, deliver, watch; resolves with why it ended (`undefined` when closed). */
  async function cycle(loop: FeedLoopTurn): Promise<unknown> {
    let snapshot: RangeSnapshot | undefined;
    try {
      snapshot = await loop.untilClosed(options.loadSnapshot());
    } catch (error) {
      return error;
    }
    if (loop.closed || snapshot === undefined) return undefined;
    loop.deliver({ type: 'snapshot', revision: snapshot.revision, records: snapshot.records });
    return watchOnce(loop, { revision: snapshot.revision });
  }

  /** One turn: a cycle, then the pause before the next one. */
  async function turn(loop: FeedLoopTurn): Promise<number> {
    live = false;
    const reason = await cycle(loop);
    if (loop.closed) return 0;
    // A watch that was live restarts at once; repeated failures back off.
    const wasLive = live;
    if (wasLive) backoffMs = options.initialBackoffMs;
    live = false;
    const text = describeEtcdError(reason);
    loop.report({ connected: false, reason: text });
    // Once per break; the retries of an outage go to debug (the datasource logs the outage).
    logger[wasLive ? 'info' : 'debug']('etcd feed resyncing', { reason: text, retryInMs: backoffMs });
    const pauseMs = backoffMs;
    backoffMs = Math.min(backoffMs * 2, options.maxBackoffMs);
    return pauseMs;
  }

  const loop = createFeedLoop({ handlers, logger, onState: options.onState, turn });
  // No kick: a local write reaches this feed through the watch, and a retry keeps its backoff.
  return { close: () => loop.close() };
}
