import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import type { Change, FeedEvent, FeedHandlers, FeedSubscription, Logger } from '@dynmcp/plugin';
import { describeEtcdError, etcdError } from './etcd-errors.js';
import { decodeRecord, prefixEnd, type EtcdKeys } from './etcd-keys.js';
import type { RangeSnapshot } from './etcd-records.js';

/** State of one feed, for the datasource's health. */
export interface EtcdFeedState {
  connected: boolean;
  reason?: string;
}

/** What an {@link createEtcdFeed} loop needs from its datasource. */
export interface EtcdFeedOptions {
  handlers: FeedHandlers;
  keys: EtcdKeys;
  /** One consistent read of everything under the prefix. */
  loadSnapshot(): Promise<RangeSnapshot>;
  /** A new raw gRPC watch stream (etcd3's `watchClient.watch()`), one per cycle. */
  openStream(): Promise<WatchStream>;
  /** Every change of this feed's state. */
  onState(state: EtcdFeedState): void;
  /** How long a new watcher may take to be created before the cycle starts over. */
  watchTimeoutMs: number;
  /** Pause before the first retry after a failure; doubles up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
}

/** The raw watch stream of etcd's v3 API. */
export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** A running feed. */
export type EtcdFeed = FeedSubscription;

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
 * The watch loop of one `watch()`, research/reliability.md §1.6. Each cycle: read everything at
 * one revision R, deliver it as a snapshot, then watch from R+1 on a fresh gRPC stream until it
 * breaks. Any break (stream error or end, cancellation by etcd such as compaction, a watch not
 * created in time, a store whose revision went backwards) ends the cycle: the stream is dropped and
 * the next cycle starts with a full reload. etcd3's WatchManager is not used at all: its resume
 * moves the resume point past events it has not delivered and loses them, and it drops a compacted
 * watcher for good (§0 findings 1 and 2, §1.3). Events are delivered one at a time, in order, from
 * the loop and the stream's callbacks, never concurrently.
 */
export function createEtcdFeed(options: EtcdFeedOptions): EtcdFeed {
  const { handlers, keys, logger } = options;
  // Everything the loop waits on is woken by close(): pauses, a pending load, a running watch.
  const wakers = new Set<() => void>();
  let closed = false;
  let live = false;

  function deliver(event: FeedEvent): void {
    try {
      handlers.onEvent(event);
    } catch (error) {
      // The consumer's bug; the feed itself is fine and moves on.
      logger.error('feed consumer failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  function report(state: EtcdFeedState): void {
    try {
      options.onState(state);
    } catch {
      // Health reporting must not break the loop.
    }
  }

  /** Resolves with `promise`'s outcome, or with `undefined` as soon as the feed closes. */
  function untilClosed<T>(promise: Promise<T>): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const wake = () => resolve(undefined);
      wakers.add(wake);
      promise.then(
        (value) => {
          wakers.delete(wake);
          resolve(value);
        },
        (error: unknown) => {
          wakers.delete(wake);
          reject(error);
        },
      );
    });
  }

  /** A jittered pause (±20%, so replicas do not retry in lockstep) that close() cuts short. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms * (0.8 + Math.random() * 0.4));
      wakers.add(wake);
    });
  }

  /** Turns one watch response into a `changes` event; returns a reason to resync, if any. */
  function onData(response: IWatchResponse, applied: { revision: number }): Error | undefined {
    // A header behind what was applied means the store was replaced (a wipe, a restore): the
    // history this feed built on is gone (research/reliability.md §1.6, etcd3 #31).
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
    if (changes.length > 0) deliver({ type: 'changes', revision, changes });
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
  async function watchOnce(applied: { revision: number }): Promise<unknown> {
    let stream: WatchStream | undefined;
    try {
      stream = await untilClosed(options.openStream());
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
          report({ connected: true });
        }
      }
      const reason = onData(response, applied);
      if (reason !== undefined) finish(reason);
    });
    stream.on('error', (error: Error) => finish(etcdError('DYNMCP_CONNECTION_LOST', error)));
    stream.on('end', () => finish(etcdError('DYNMCP_CONNECTION_LOST')));
    const start = Buffer.from(keys.root);
    stream.write({
      create_request: { key: start, range_end: prefixEnd(start), start_revision: applied.revision + 1, progress_notify: true },
    });
    const reason = await untilClosed(ended.promise);
    finished = true;
    clearTimeout(timer);
    release(stream);
    return reason;
  }

  /** One cycle: load, deliver, watch; resolves with why it ended (`undefined` when closed). */
  async function cycle(): Promise<unknown> {
    let snapshot: RangeSnapshot | undefined;
    try {
      snapshot = await untilClosed(options.loadSnapshot());
    } catch (error) {
      return error;
    }
    if (closed || snapshot === undefined) return undefined;
    deliver({ type: 'snapshot', revision: snapshot.revision, records: snapshot.records });
    return watchOnce({ revision: snapshot.revision });
  }

  async function run(): Promise<void> {
    let backoffMs = options.initialBackoffMs;
    while (!closed) {
      live = false;
      const reason = await cycle();
      if (closed) return;
      // A watch that was live restarts at once; repeated failures back off.
      const wasLive = live;
      if (wasLive) backoffMs = options.initialBackoffMs;
      live = false;
      const text = describeEtcdError(reason);
      report({ connected: false, reason: text });
      // Once per break; the retries of an outage go to debug (the datasource logs the outage).
      logger[wasLive ? 'info' : 'debug']('etcd feed resyncing', { reason: text, retryInMs: backoffMs });
      await pause(backoffMs);
      backoffMs = Math.min(backoffMs * 2, options.maxBackoffMs);
    }
  }

  const running = run().catch((error: unknown) => {
    logger.error('etcd feed stopped unexpectedly', { error: error instanceof Error ? error.message : String(error) });
  });

  return {
    async close() {
      closed = true;
      for (const wake of [...wakers]) wake();
      wakers.clear();
      await running;
    },
  };
}
