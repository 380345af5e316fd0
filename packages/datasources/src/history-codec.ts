import { GatewayError, type AuditEntry, type HistoryEntry, type Logger, type WriteAction } from '@dynmcp/plugin';
import { parseStoredValue } from './record-codec.js';

// What every built-in store does the same way with history: the entry written beside each change,
// the checks of a history or audit query, and which entries retention removes.

/** Default of `historyRetentionMs`: entries older than this go (except a live record's newest). */
export const DEFAULT_HISTORY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Default of `historyMaxVersions`: versions kept per record, however young (0: no cap). */
export const DEFAULT_HISTORY_MAX_VERSIONS = 100;
/** Largest `limit` of a history or audit query (the admin routes allow less). */
export const MAX_HISTORY_LIMIT = 10_000;

/** One stored history entry before its value is parsed. */
export interface RawHistoryEntry {
  kind: string;
  id: string;
  revision: number;
  at: number;
  principal?: string;
  action: WriteAction;
  /** The JSON of the version, `null` for a delete. */
  text: string | null;
}

/** The entry as {@link DataSource.history} returns it. */
export function toHistoryEntry(raw: RawHistoryEntry, logger: Logger): HistoryEntry {
  const { revision, at, principal, action } = raw;
  const who = principal === undefined ? {} : { principal };
  if (raw.text === null) return { revision, at, ...who, action, deleted: true };
  const value = parseStoredValue(raw.text, { kind: raw.kind, id: raw.id, revision }, logger);
  return { revision, at, ...who, action, deleted: false, value };
}

/** The entry as {@link DataSource.audit} returns it. */
export function toAuditEntry(raw: RawHistoryEntry): AuditEntry {
  const { revision, at, principal, action, kind, id } = raw;
  return { revision, at, ...(principal === undefined ? {} : { principal }), action, kind, id, deleted: raw.text === null };
}

/** A query's `limit`, checked: an integer from 1 to {@link MAX_HISTORY_LIMIT}. */
export function checkLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new GatewayError('INVALID_PAYLOAD', `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}`);
  }
  return limit;
}

/** An audit's `since`, checked: a non-negative integer revision. */
export function checkSince(since: unknown): number {
  if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
    throw new GatewayError('INVALID_PAYLOAD', 'since must be a non-negative integer revision');
  }
  return since;
}

/** The retention of history: an age and a number of versions per record. */
export interface HistoryRetention {
  /** Entries written before this (epoch ms) go. */
  cutoff: number;
  /** Versions kept per record (0: no cap). */
  maxVersions: number;
}

/**
 * The revisions of one record's entries that retention removes, given them newest first. Every
 * entry older than the cutoff or beyond `maxVersions` goes, except the newest while the record
 * lives: its current version always has its entry, so a rollback to it and its author stay known.
 * The newest entry of a deleted record is a delete; it goes with the age like the others.
 */
export function prunedRevisions(
  newestFirst: ReadonlyArray<{ revision: number; at: number; deleted: boolean }>,
  retention: HistoryRetention,
): number[] {
  const pruned: number[] = [];
  newestFirst.forEach((entry, index) => {
    const old = entry.at < retention.cutoff;
    const beyond = retention.maxVersions > 0 && index >= retention.maxVersions;
    if (index === 0 ? entry.deleted && old : old || beyond) pruned.push(entry.revision);
  });
  return pruned;
}
