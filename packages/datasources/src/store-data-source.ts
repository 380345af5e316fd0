import type {
  AuditEntry,
  BatchOperation,
  BatchResult,
  DataSource,
  FeedHandlers,
  FeedSubscription,
  HistoryEntry,
  Logger,
  StoredRecord,
  WriteMetadata,
} from '@dynmcp/plugin';
import type { FeedState } from './feed-loop.js';
import { createHealthTracker, NOT_OPEN } from './health-tracker.js';
import {
  checkLimit,
  checkSince,
  DEFAULT_HISTORY_MAX_VERSIONS,
  DEFAULT_HISTORY_RETENTION_MS,
  type HistoryRetention,
} from './history-codec.js';
import { batchWrites, checkKey, deleteWrite, putWrite, type KeyRules, type RecordWrite } from './record-codec.js';
import { storeUnavailable, type LifecycleErrorCode } from './store-errors.js';
import { replicaMethods, type ReplicaStore } from './replica-store.js';

/** Options every built-in datasource takes besides its store's own. */
export interface StoreOptions {
  logger: Logger;
  /** Clock (epoch ms) for `lastSyncAt` and the store's own timestamps; tests pass a fake. */
  now?: () => number;
  /** How long history entries are kept, default 30 days; a live record's newest entry stays. */
  historyRetentionMs?: number;
  /** Versions kept per record however young, default 100; 0: no cap. */
  historyMaxVersions?: number;
}

// History pruning scans the history, so it runs at most once a minute, after a write; more often
// only when the retention itself is shorter (tests).
const HISTORY_PRUNE_EVERY_MS = 60_000;

/** A running feed of a store; `kick()`, when the feed has one, asks it to look for changes now. */
export interface StoreFeed extends FeedSubscription {
  kick?(): void;
}

/** What a store's feed gets from {@link createStoreDataSource}. */
export interface StoreFeedContext<Client> {
  handlers: FeedHandlers;
  /** The open client; throws the store's not-open or closed error otherwise. */
  client(): Client;
  /** Every change of the feed's state. */
  onState(state: FeedState): void;
}

/** What a store's {@link StoreDriver.writeBatch} did. */
export interface BatchOutcome {
  /** The batch's revision, or the store's current one when nothing was written. */
  revision: number;
  /** Per write, in order: `false` for a delete of an absent record (nothing written for it). */
  applied: boolean[];
}

/**
 * One store behind a {@link createStoreDataSource}: how to connect, and the store operations on an
 * open client. Operations throw what their driver throws; the datasource wraps it once.
 */
export interface StoreDriver<Client> {
  /** The datasource's name (its plugin name). */
  name: string;
  /** Already the datasource's child logger. */
  logger: Logger;
  now: () => number;
  keyRules: KeyRules;
  /** A short, client-safe reason for a failure of this store. */
  describeError(error: unknown): string;
  /** This store's error for an operation before `open()` or after `close()`. */
  lifecycleError(code: LifecycleErrorCode): Error;
  /** Loads the driver and creates a client; when it throws there is nothing to release. */
  connect(): Promise<Client>;
  /** Makes a new client ready (a probe, schema migrations); when it throws the client is released. */
  prepare(client: Client): Promise<void>;
  release(client: Client): Promise<void>;
  /** Metadata of the `store opened` log line. */
  openedLog?: Record<string, unknown>;
  list(client: Client, kind: string): Promise<StoredRecord[]>;
  get(client: Client, kind: string, id: string): Promise<StoredRecord | undefined>;
  /** Resolves with the revision written, or `undefined` for a delete of an absent record. */
  write(client: Client, write: RecordWrite): Promise<number | undefined>;
  /**
   * Applies every write at one new revision in one store transaction, or none (a failed
   * precondition throws `PRECONDITION_FAILED`). Never called with an empty list.
   */
  writeBatch(client: Client, writes: readonly RecordWrite[]): Promise<BatchOutcome>;
  /** The store's current revision, for a batch that writes nothing. */
  currentRevision(client: Client): Promise<number>;
  /** One record's history entries, newest first, at most `limit`. */
  history(client: Client, kind: string, id: string, limit: number): Promise<HistoryEntry[]>;
  /** Every history entry after revision `since`, ascending, at most `limit`. */
  audit(client: Client, since: number, limit: number): Promise<AuditEntry[]>;
  /** Removes the history entries retention no longer keeps; resolves with how many. */
  pruneHistory(client: Client, retention: HistoryRetention): Promise<number>;
  watch(context: StoreFeedContext<Client>): StoreFeed;
  /** Optional: replica announcements in this store (`DataSource.announce` and `replicas`). */
  replicas?: ReplicaStore<Client>;
}

/**
 * A record a batch wrote, its value what the store holds (a JSON round trip, as put() returns it),
 * parsed when first read: the admin API answers a batch with ids and revisions only, and parsing
 * the megabytes of a thousand imported tools again would cost every request of the replica tens
 * of milliseconds.
 */
function storedRecord(kind: string, id: string, text: string, revision: number): StoredRecord {
  let parsed: { value: unknown } | undefined;
  return {
    kind,
    id,
    revision,
    get value() {
      parsed ??= { value: JSON.parse(text) as unknown };
      return parsed.value;
    },
  };
}

/**
 * The datasource contract over one store, the same for every built-in store: `open()` once at a
 * time and retryable after a failure, every foreign failure wrapped once into `STORE_UNAVAILABLE`,
 * keys and values checked before the store is touched, the stored JSON returned by `put()`.
 * Health: connected while open and every feed is connected, else the first reason found;
 * transitions logged once and told to every feed's `onHealth`. `close()` stops the feeds, waits
 * for a running `open()`, releases the client.
 */
export function createStoreDataSource<Client>(driver: StoreDriver<Client>, options: Omit<StoreOptions, 'logger' | 'now'> = {}): DataSource {
  const { logger, keyRules } = driver;
  const historyRetentionMs = options.historyRetentionMs ?? DEFAULT_HISTORY_RETENTION_MS;
  const historyMaxVersions = options.historyMaxVersions ?? DEFAULT_HISTORY_MAX_VERSIONS;
  const pruneEveryMs = Math.min(HISTORY_PRUNE_EVERY_MS, Math.max(historyRetentionMs / 2, 1));
  let lastPruneAt = Number.NEGATIVE_INFINITY;
  let pruning: Promise<void> | undefined;
  let pruneAgain = false;
  const unavailable = (error: unknown) => storeUnavailable(error, driver.describeError);
  let client: Client | undefined;
  let opening: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let closed = false;
  const feeds = new Map<StoreFeed, { handlers: FeedHandlers; state: FeedState }>();
  const health = createHealthTracker({
    logger,
    now: driver.now,
    onChange: (current) => {
      for (const { handlers } of feeds.values()) handlers.onHealth?.(current);
    },
  });

  function refresh(): void {
    if (client === undefined) return health.disconnected(closed ? 'closed' : NOT_OPEN);
    const down = [...feeds.values()].find((feed) => !feed.state.connected);
    if (down === undefined) health.connected();
    else health.disconnected(down.state.reason ?? 'disconnected');
  }

  function current(): Client {
    if (client !== undefined) return client;
    throw driver.lifecycleError(closed ? 'DYNMCP_CLOSED' : 'DYNMCP_NOT_OPEN');
  }

  async function run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    try {
      return await operation(current());
    } catch (error) {
      throw unavailable(error);
    }
  }

  async function openOnce(): Promise<void> {
    let created: Client | undefined;
    try {
      created = await driver.connect();
      await driver.prepare(created);
      if (closed) throw driver.lifecycleError('DYNMCP_CLOSED');
    } catch (error) {
      if (created !== undefined) await driver.release(created).catch(() => {});
      health.disconnected(driver.describeError(error));
      throw unavailable(error);
    }
    client = created;
    refresh();
    logger.info('store opened', driver.openedLog);
  }

  // A local write is seen by this process's feeds within milliseconds (read-your-writes).
  function kickFeeds(): void {
    for (const feed of feeds.keys()) feed.kick?.();
  }

  /**
   * Prunes history after a write, at most once per interval, in the background: the write does not
   * wait for it, a failure only waits for the next interval, and `close()` waits for a running one.
   */
  function pruneHistoryIfDue(): void {
    const at = driver.now();
    if (at - lastPruneAt < pruneEveryMs || client === undefined) return;
    if (pruning !== undefined) {
      // Due again while one runs: once more when it ends, so the newest writes are not left unpruned.
      pruneAgain = true;
      return;
    }
    lastPruneAt = at;
    const open = client;
    pruning = driver
      .pruneHistory(open, { cutoff: at - historyRetentionMs, maxVersions: historyMaxVersions })
      .then((pruned) => {
        if (pruned > 0) logger.info('history pruned', { pruned });
      })
      .catch((error: unknown) => logger.debug('history pruning failed', { reason: driver.describeError(error) }))
      .finally(() => {
        pruning = undefined;
        if (pruneAgain && !closed) {
          pruneAgain = false;
          lastPruneAt = Number.NEGATIVE_INFINITY;
          pruneHistoryIfDue();
        }
      });
  }

  async function write(request: RecordWrite): Promise<number | undefined> {
    const revision = await run((open) => driver.write(open, request));
    if (revision !== undefined) {
      kickFeeds();
      pruneHistoryIfDue();
    }
    return revision;
  }

  async function batch(operations: readonly BatchOperation[], metadata?: WriteMetadata): Promise<BatchResult> {
    const writes = await batchWrites(operations, keyRules, metadata);
    if (writes.length === 0) {
      return { revision: await run((open) => driver.currentRevision(open)), written: false, records: [], deleted: [] };
    }
    const { revision, applied } = await run((open) => driver.writeBatch(open, writes));
    const written = applied.includes(true);
    if (written) {
      kickFeeds();
      pruneHistoryIfDue();
    }
    const records: StoredRecord[] = [];
    const deleted: BatchResult['deleted'] = [];
    writes.forEach(({ kind, id, text }, index) => {
      if (text !== null) records.push(storedRecord(kind, id, text, revision));
      else if (applied[index] === true) deleted.push({ kind, id });
    });
    return { revision, written, records, deleted };
  }

  return {
    name: driver.name,

    open() {
      if (closed) return Promise.reject(unavailable(driver.lifecycleError('DYNMCP_CLOSED')));
      opening ??= openOnce().catch((error: unknown) => {
        opening = undefined;
        throw error;
      });
      return opening;
    },

    list: (kind) => run((open) => driver.list(open, kind)),

    get(kind, id) {
      if (keyRules.checkOnGet === true) checkKey(kind, id, keyRules);
      return run((open) => driver.get(open, kind, id));
    },

    async put(kind, id, value, options): Promise<StoredRecord> {
      const request = putWrite(kind, id, value, options, keyRules);
      const revision = await write(request);
      // What the store holds (a JSON round trip), not the caller's object.
      return { kind, id, value: JSON.parse(request.text as string) as unknown, revision: revision as number };
    },

    async delete(kind, id, options) {
      return write(deleteWrite(kind, id, options, keyRules));
    },

    batch,

    async history(kind, id, query) {
      checkKey(kind, id, keyRules);
      const limit = checkLimit(query?.limit);
      return run((open) => driver.history(open, kind, id, limit));
    },

    async audit(query) {
      const since = checkSince(query?.since);
      const limit = checkLimit(query?.limit);
      return run((open) => driver.audit(open, since, limit));
    },

    watch(handlers) {
      if (closed) throw unavailable(driver.lifecycleError('DYNMCP_CLOSED'));
      const entry = { handlers, state: { connected: true } as FeedState };
      const feed: StoreFeed = driver.watch({
        handlers,
        client: current,
        onState(state) {
          entry.state = state;
          if (feeds.has(feed)) refresh();
        },
      });
      feeds.set(feed, entry);
      return {
        async close() {
          feeds.delete(feed);
          await feed.close();
          if (!closed) refresh();
        },
      };
    },

    ...replicaMethods(driver.replicas, current, unavailable),

    health: () => health.current(),

    close() {
      closing ??= (async () => {
        closed = true;
        const running = [...feeds.keys()];
        feeds.clear();
        await Promise.all(running.map((feed) => feed.close()));
        await opening?.catch(() => {});
        while (pruning !== undefined) await pruning;
        const open = client;
        client = undefined;
        if (open !== undefined) await driver.release(open);
        health.disconnected('closed', { quiet: true });
      })();
      return closing;
    },
  };
}
