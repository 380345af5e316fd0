import { setTimeout as sleep } from 'node:timers/promises';
import type { IWatchResponse, Watcher } from 'etcd3';
import type { Change, FeedEvent, FeedHandlers, FeedSubscription, Logger } from '@dynmcp/plugin';
import { describeEtcdError, etcdError, isCompactedError } from './etcd-errors.js';
import { decodeRecord, type EtcdKeys } from './etcd-keys.js';
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
  /** A new, not yet connected etcd3 watcher on the prefix from `startRevision`. */
  openWatcher(startRevision: number): Watcher;
  /** Every change of this feed's state. */
  onState(state: EtcdFeedState): void;
  /** How long a new watcher may take to be created before the cycle starts over. */
  watchTimeoutMs: number;
  /** Pause before the first retry after a failure; doubles up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
}

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
 * one revision R, deliver it as a snapshot, then watch from R+1 until the watcher breaks. Any break
 * (disconnect, watcher error, compaction, a watcher that never starts, a store whose revision went
 * backwards) ends the cycle: the watcher is cancelled and the next cycle starts with a full reload.
 * etcd3's own resume is never used: it moves its resume point past events it has not delivered and
 * loses them, and it drops a compacted watcher for good (§0 findings 1 and 2, §1.3).
 * Events are delivered from the watcher's callbacks and the loop, never concurrently.
 */
export function createEtcdFeed(options: EtcdFeedOptions): EtcdFeed {
  const { handlers, keys, logger } = options;
  // Everything the loop waits on is woken by close(): pauses, a pending load, a running watch.
  const wakers = new Set<() => void>();
  let closed = false;
  let current: Watcher | undefined;
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

  /** Stops listening to a watcher and cancels it; the promise settles when etcd acknowledges. */
  function release(watcher: Watcher, cancel: boolean): Promise<void> {
    watcher.removeAllListeners();
    // etcd3 may still emit on it; an 'error' without a listener would throw.
    watcher.on('error', () => {});
    if (current === watcher) current = undefined;
    // After an 'error' etcd3 has already removed the watcher; cancelling again would wait forever
    // for an acknowledgement that never comes.
    return cancel ? watcher.cancel().catch(() => {}) : Promise.resolve();
  }

  /** One cycle; resolves with why it ended (`undefined` when closed). */
  async function cycle(): Promise<unknown> {
    let snapshot: RangeSnapshot | undefined;
    try {
      snapshot = await untilClosed(options.loadSnapshot());
    } catch (error) {
      return error;
    }
    if (closed || snapshot === undefined) return undefined;
    deliver({ type: 'snapshot', revision: snapshot.revision, records: snapshot.records });
    const applied = { revision: snapshot.revision };

    const ended = deferred<unknown>();
    let cancelOnRelease = true;
    const watcher = options.openWatcher(applied.revision + 1);
    current = watcher;
    const timer = setTimeout(() => ended.resolve(etcdError('DYNMCP_WATCH_TIMEOUT')), options.watchTimeoutMs);
    watcher.on('connected', () => {
      clearTimeout(timer);
      if (!live) {
        live = true;
        report({ connected: true });
      }
    });
    watcher.on('data', (response: IWatchResponse) => {
      const reason = onData(response, applied);
      if (reason !== undefined) ended.resolve(reason);
    });
    watcher.on('disconnected', (error: Error) => ended.resolve(etcdError('DYNMCP_CONNECTION_LOST', error)));
    watcher.on('end', () => ended.resolve(etcdError('DYNMCP_WATCH_CANCELED')));
    watcher.on('error', (error: Error) => {
      cancelOnRelease = false;
      ended.resolve(etcdError(isCompactedError(error) ? 'DYNMCP_COMPACTED' : 'DYNMCP_WATCH_CANCELED', error));
    });
    const reason = await untilClosed(ended.promise);
    clearTimeout(timer);
    if (closed) {
      // A clean cancel on close, but briefly: a stream to a dead etcd never acknowledges it.
      await Promise.race([release(watcher, cancelOnRelease), sleep(1000, undefined, { ref: false })]);
      return undefined;
    }
    void release(watcher, cancelOnRelease);
    return reason;
  }

  async function run(): Promise<void> {
    let backoffMs = options.initialBackoffMs;
    while (!closed) {
      live = false;
      const reason = await cycle();
      if (closed) return;
      // A watch that was live restarts at once; repeated failures back off.
      if (live) backoffMs = options.initialBackoffMs;
      live = false;
      const text = describeEtcdError(reason);
      report({ connected: false, reason: text });
      logger.info('etcd feed resyncing', { reason: text, retryInMs: backoffMs });
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
