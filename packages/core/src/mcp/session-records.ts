import type { AppliedEvent, LiveDefinitions } from '@dynmcp/common';
import type { DataSource, Logger, StoredRecord } from '@dynmcp/plugin';

/**
 * How often expired session records are purged from the store, and how long after expiry: a
 * replica whose clock runs behind still honours a record its own clock has not yet seen expire.
 */
const PURGE_EVERY_MS = 60_000;
export const PURGE_GRACE_MS = 60_000;
/** Deletes per purge batch. */
const PURGE_BATCH = 100;
/**
 * Session records and their purges are session churn, not operators' changes: no history or audit
 * entries (the feed still carries them to every replica).
 */
const UNTRACKED = { untracked: true } as const;

/** What the users of {@link followSessionRecords} (ended sessions, log levels) are given alike. */
export interface SharedRecordOptions {
  /** Where the records are shared; absent when sessions live in this process only. */
  datasource?: DataSource;
  /** The feed of the store, as the live definitions apply it. */
  definitions?: Pick<LiveDefinitions, 'onApplied' | 'status'>;
  logger: Logger;
  now?: () => number;
  /** How often expired records are purged; default every minute (plus up to 10 s, so replicas spread out). */
  purgeEveryMs?: number;
}

/** What one kind of session record needs from {@link followSessionRecords}. */
export interface SessionRecordOptions extends SharedRecordOptions {
  /** The record kind (at most 16 characters). */
  kind: string;
  now: () => number;
  /** The expiry (epoch ms) a record's id names, or `undefined` for an id of another shape. */
  expiryOf(id: string): number | undefined;
  /** Takes in an unexpired record the feed delivered or a reload found (the feed names ids, not values). */
  learn(id: string, revision: number): void;
  /** Forgets what expired before `cutoff`; returns the ids of the records to delete from the store. */
  forget(cutoff: number): string[];
}

/** A kind of session record, followed through the store's feed. */
export interface SessionRecords {
  /** Writes one record (untracked); resolves with it, or `undefined` without a store. */
  put(id: string, value: unknown): Promise<StoredRecord | undefined>;
  /** Forgets expired records here and deletes them from the store. */
  purge(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Records a replica writes for 2025-era sessions (an ended session, a session's log level), named
 * so that the id alone says what they hold and when they expire: every replica learns them from
 * its feed, reads them all again after a feed snapshot (with `list`), and purges expired ones from
 * the store (each replica purges the same ones; deleting an absent record is a no-op).
 */
export function followSessionRecords(options: SessionRecordOptions): SessionRecords {
  const { datasource, definitions, kind, logger, now } = options;
  let closed = false;

  /** Deletes records from the store, in batches. */
  async function deleteRecords(ids: string[]) {
    if (datasource === undefined) return;
    for (let start = 0; start < ids.length && !closed; start += PURGE_BATCH) {
      const slice = ids.slice(start, start + PURGE_BATCH);
      if (datasource.batch) await datasource.batch(slice.map((id) => ({ op: 'delete', kind, id, untracked: true })));
      else for (const id of slice) await datasource.delete(kind, id, UNTRACKED);
    }
    if (ids.length > 0) logger.info('expired session records purged', { kind, count: ids.length });
  }

  /** Reads every record (after a feed snapshot); purges the expired ones it finds, whoever wrote them. */
  async function reload() {
    if (datasource === undefined) return;
    try {
      const expired: string[] = [];
      for (const record of await datasource.list(kind)) {
        if ((options.expiryOf(record.id) ?? 0) + PURGE_GRACE_MS <= now()) expired.push(record.id);
        else learnIfLive(record.id, record.revision);
      }
      await deleteRecords(expired);
    } catch (error) {
      logger.warn('session records could not be read from the store', { kind, error: (error as Error).message });
    }
  }

  function learnIfLive(id: string, revision: number) {
    const expiresAt = options.expiryOf(id);
    if (expiresAt !== undefined && expiresAt > now()) options.learn(id, revision);
  }

  const unsubscribe =
    datasource === undefined || definitions === undefined
      ? undefined
      : definitions.onApplied((event: AppliedEvent) => {
          if (event.type === 'snapshot') return void reload();
          for (const record of event.records) if (record.kind === kind && !record.deleted) learnIfLive(record.id, record.revision);
        });
  // The first snapshot may have been applied before this was created.
  if (definitions?.status().loaded === true) void reload();

  async function purge() {
    const expired = options.forget(now() - PURGE_GRACE_MS);
    if (closed) return;
    await deleteRecords(expired).catch((error: unknown) => {
      logger.warn('expired session records not purged', { kind, error: (error as Error).message });
    });
  }
  const purger = setInterval(() => void purge(), options.purgeEveryMs ?? PURGE_EVERY_MS + Math.floor(Math.random() * 10_000));
  purger.unref();

  return {
    put: async (id, value) => (datasource === undefined ? undefined : datasource.put(kind, id, value, UNTRACKED)),
    purge,
    async close() {
      closed = true;
      clearInterval(purger);
      unsubscribe?.();
    },
  };
}
