import type { Logger } from './logger.js';
import type { ReplicaAnnouncement, ReplicaInfo, ReplicaListing } from './replica.js';

/**
 * The store contract. A datasource keeps JSON values by kind and id, gives every write a revision
 * from one monotonic counter, and delivers a change feed in revision order. It knows nothing about
 * tools or instances: validation happens above it.
 */

/** A stored value with the revision of its last write. */
export interface StoredRecord {
  kind: string;
  id: string;
  value: unknown;
  /** Revision of the write that produced this value; doubles as the record's ETag. */
  revision: number;
}

/** One change of the feed. A `delete` carries no value. */
export type Change =
  | { type: 'put'; kind: string; id: string; value: unknown; revision: number }
  | { type: 'delete'; kind: string; id: string; revision: number };

/**
 * What a feed delivers. The first event is always a `snapshot`; after that `changes` in revision
 * order, never splitting one revision: every change written at a revision (all of a
 * {@link DataSource.batch}) arrives in the same `changes` event, so consumers apply it as one. A datasource that lost track of the feed (reconnect, compaction, retention passed) sends a
 * new `snapshot`, which replaces everything the consumer held.
 */
export type FeedEvent =
  | { type: 'snapshot'; revision: number; records: StoredRecord[] }
  | { type: 'changes'; revision: number; changes: Change[] };

/** Connection state of a datasource, for readiness. */
export interface DataSourceHealth {
  /** True while the store is reachable and the feed is current. */
  connected: boolean;
  /** Why not, when not connected. */
  reason?: string;
  /** Epoch ms of the last moment the feed was known current. */
  lastSyncAt?: number;
}

/** Why a write was made, as its history entry records it. */
export type WriteAction = 'put' | 'delete' | 'import' | 'rollback';

/**
 * Who made a write and why (plugin API 3), recorded in the history entry a datasource with
 * {@link DataSource.history} writes in the same transaction as the change. A datasource without
 * history ignores it.
 */
export interface WriteMetadata {
  /** The principal's name (an API key's name or id, never the key). */
  principal?: string;
  /** Default: `put` for a put, `delete` for a delete. */
  action?: WriteAction;
}

/** Conditions on a write, for optimistic concurrency, and the metadata its history records. */
export interface WriteOptions {
  /**
   * Write only if the record's current revision equals this; `0` means "only if absent".
   * A mismatch fails with `GatewayError('PRECONDITION_FAILED')`.
   */
  ifRevision?: number;
  /** Recorded in the write's history entry (plugin API 3). */
  metadata?: WriteMetadata;
  /**
   * Plugin API 5: `true` makes the write leave no entry in {@link DataSource.history} or
   * {@link DataSource.audit}, for internal records the gateway writes at a high rate (an ended
   * session's revocation, its purge) that would otherwise bury the operators' changes and grow the
   * store with history nobody reads. The change itself is as any other: a revision, in the feed,
   * the same preconditions. A record's existing entries stay, so its history no longer ends at its
   * current version. A datasource without history ignores it. Default `false`.
   */
  untracked?: boolean;
}

/** One version of one record, as {@link DataSource.history} returns it (newest first). */
export type HistoryEntry = {
  /** The revision of the write that produced this version. */
  revision: number;
  /** Epoch ms of the write. */
  at: number;
  principal?: string;
  action: WriteAction;
} & ({ deleted: false; value: unknown } | { deleted: true });

/** One change of {@link DataSource.audit}: who changed which record at which revision. */
export interface AuditEntry {
  revision: number;
  at: number;
  principal?: string;
  action: WriteAction;
  kind: string;
  id: string;
  /** True when the change deleted the record. */
  deleted: boolean;
}

/** One write of a {@link DataSource.batch}: a put (create or replace) or a delete, each with its own precondition. */
export type BatchOperation =
  | {
      op: 'put';
      kind: string;
      id: string;
      value: unknown;
      /** As {@link WriteOptions.ifRevision}: the record's current revision, `0` for "only if absent". */
      ifRevision?: number;
      /** As {@link WriteOptions.untracked} (plugin API 5): this write leaves no history or audit entry. */
      untracked?: boolean;
    }
  | {
      op: 'delete';
      kind: string;
      id: string;
      /** As {@link WriteOptions.ifRevision}; `0` makes the delete a checked no-op ("only if absent"). */
      ifRevision?: number;
      /** As {@link WriteOptions.untracked} (plugin API 5): this write leaves no history or audit entry. */
      untracked?: boolean;
    };

/** What a {@link DataSource.batch} wrote. */
export interface BatchResult {
  /**
   * The batch's revision: every put's new revision and the revision of every delete. When nothing
   * was written (an empty batch, or only deletes of absent records) the store's current revision.
   */
  revision: number;
  /** Whether anything was written; `false` means no revision was taken and the feed sees nothing. */
  written: boolean;
  /** The stored records of the puts, in the order of the operations, each at {@link revision}. */
  records: StoredRecord[];
  /** The deletes that removed a record, in the order of the operations; a delete of an absent record is left out. */
  deleted: Array<{ kind: string; id: string }>;
}

/** Handlers of {@link DataSource.watch}. */
export interface FeedHandlers {
  /** Called for each event, in order; never concurrently. */
  onEvent(event: FeedEvent): void;
  /** Called when connectivity changes. */
  onHealth?(health: DataSourceHealth): void;
}

/** A running feed; `close()` stops it. */
export interface FeedSubscription {
  close(): Promise<void>;
}

/** The store contract every datasource, built-in or plugin, implements. */
export interface DataSource {
  /** Short name for logs, e.g. `sqlite`. */
  readonly name: string;
  /**
   * Connects and prepares the store (creates schema where it can). May reject when unreachable; the
   * gateway retries. A failure no retry can mend rejects with a `GatewayError` whose `data` holds
   * `permanent: true`, and the gateway's start fails with its message (older gateways retry it).
   */
  open(): Promise<void>;
  /** All live records of one kind, ordered by id. */
  list(kind: string): Promise<StoredRecord[]>;
  /** One record, or `undefined`. */
  get(kind: string, id: string): Promise<StoredRecord | undefined>;
  /** Creates or replaces a record; resolves with the stored record and its new revision. */
  put(kind: string, id: string, value: unknown, options?: WriteOptions): Promise<StoredRecord>;
  /** Deletes a record; resolves with the delete's revision, or `undefined` when there was none. */
  delete(kind: string, id: string, options?: WriteOptions): Promise<number | undefined>;
  /**
   * Optional (plugin API 2): applies every operation at one new revision, or none. All puts get
   * that revision and the deletes happen at it; the feed delivers the batch's changes together in
   * one `changes` event. Any failed `ifRevision` rejects with `GatewayError('PRECONDITION_FAILED')`
   * naming the record, and nothing is written. The same kind and id twice in one batch is refused
   * with `INVALID_PAYLOAD`. A delete of an absent record is ignored (listed nowhere, no tombstone),
   * as {@link delete} does. An empty batch writes nothing and resolves with the current revision.
   * Features that need it check with `requireBatch()`.
   */
  batch?(operations: readonly BatchOperation[], metadata?: WriteMetadata): Promise<BatchResult>;
  /**
   * Optional (plugin API 3): the versions of one record, newest first, at most `limit`, as kept by
   * the datasource's retention (which never drops the current version's entry). Every write made
   * through put, delete and batch records its entry in the same transaction as the change, at the
   * change's revision, so a failed write leaves none, except a write marked
   * {@link WriteOptions.untracked}, which leaves none at all (plugin API 5). Entries are not part of
   * the feed.
   */
  history?(kind: string, id: string, options: { limit: number }): Promise<HistoryEntry[]>;
  /**
   * Optional (plugin API 3): every change after revision `since`, ascending, at most `limit`: the
   * history entries of every record, so an untracked write is not in it either.
   */
  audit?(options: { since: number; limit: number }): Promise<AuditEntry[]>;
  /**
   * Optional (plugin API 4): a handle that announces this replica in the store. Does no I/O
   * itself; each `update()` writes the replica's info and keeps the entry for `ttlMs` more, so an
   * entry whose replica stopped renewing it (crashed, frozen, cut off) expires on its own.
   * Announcements are not records: never in the feed, never listed by {@link list}.
   */
  announce?(info: ReplicaInfo, options: { ttlMs: number }): ReplicaAnnouncement;
  /** Optional (plugin API 4): the replicas announced and not expired, and the store's revision. */
  replicas?(): Promise<ReplicaListing>;
  /** Starts the change feed: a snapshot first, then changes, across reconnects. */
  watch(handlers: FeedHandlers): FeedSubscription;
  /** Current connectivity. */
  health(): DataSourceHealth;
  /** Stops feeds and releases connections. */
  close(): Promise<void>;
}

/** What a datasource factory receives. */
export interface DataSourceContext {
  logger: Logger;
}
