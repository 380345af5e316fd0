import type { AppliedEvent, LiveDefinitions } from '@dynmcp/common';
import type { DataSource, Logger } from '@dynmcp/plugin';

/**
 * The record kind of a 2025-era session's log level (`logging/setLevel`) in the store, so that a
 * replica serving a session opened or set elsewhere sends the client the log messages it asked
 * for. Its id is `<expiry>.<nonce>.<level>` (expiry in epoch seconds): a replica following the
 * feed, which names records without their values, learns the level from the id alone, and the
 * latest write for a session (the highest revision) is its level. At most one record per session
 * and level; all go once the token has expired.
 */
export const SESSION_LOG_LEVEL_KIND = 'session_level';

/** MCP's log levels, least severe first (RFC 5424 severities). */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const SEVERITY: ReadonlyMap<string, number> = new Map(LOG_LEVELS.map((level, index) => [level, index]));

/** Sessions whose level is held at most; beyond it a new level is applied on this replica only. */
export const MAX_SHARED_LEVELS = 100_000;
/** How often expired levels are purged from the store, and how long after expiry. */
const PURGE_EVERY_MS = 60_000;
const PURGE_GRACE_MS = 60_000;
const PURGE_BATCH = 100;
/** Session churn, not an operator's change: no history or audit entries. */
const UNTRACKED = { untracked: true } as const;

/** The log levels of sessions, as set through any replica. */
export interface SessionLogLevels {
  /** The level last set for the session with `nonce`, through any replica; `undefined` when none. */
  levelOf(nonce: string): LogLevel | undefined;
  /**
   * Records `level` for a session: here at once, and in the store (when sessions are shared) for
   * the other replicas, which learn it from their feed. Never rejects: a level that cannot be
   * shared still holds on this replica, and the log says why.
   */
  set(nonce: string, expiresAt: number, level: string): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createSessionLogLevels}. */
export interface SessionLogLevelOptions {
  /** Where levels are shared; absent when sessions live in this process only. */
  datasource?: DataSource;
  /** The feed of the store, as the live definitions apply it. */
  definitions?: Pick<LiveDefinitions, 'onApplied' | 'status'>;
  logger: Logger;
  now?: () => number;
  /** Default {@link MAX_SHARED_LEVELS}. */
  maxLevels?: number;
  /** How often expired levels are purged; default every minute (plus up to 10 s). */
  purgeEveryMs?: number;
}

/** True when a message at `level` is below `floor` (so not sent). */
export function belowLevel(level: string, floor: LogLevel): boolean {
  return (SEVERITY.get(level) ?? LOG_LEVELS.length) < (SEVERITY.get(floor) ?? 0);
}

const isLevel = (text: string): text is LogLevel => SEVERITY.has(text);

/** `<expiry seconds>.<nonce>.<level>` → its parts, or `undefined` for an id of another shape. */
function parseId(id: string): { nonce: string; expiresAt: number; level: LogLevel } | undefined {
  const first = id.indexOf('.');
  const last = id.lastIndexOf('.');
  const seconds = Number(id.slice(0, first));
  const level = id.slice(last + 1);
  if (first <= 0 || last <= first + 1 || !Number.isSafeInteger(seconds) || !isLevel(level)) return undefined;
  return { nonce: id.slice(first + 1, last), expiresAt: seconds * 1000, level };
}

const idOf = (nonce: string, expiresAt: number, level: LogLevel) => `${Math.ceil(expiresAt / 1000)}.${nonce}.${level}`;

interface Held {
  level: LogLevel;
  revision: number;
  expiresAt: number;
}

/**
 * The log levels of sessions, filled by this replica's `logging/setLevel` requests and by the
 * store's feed (a snapshot reloads them with `list`), emptied as tokens expire; every replica
 * purges expired records (deleting an absent record is a no-op).
 */
export function createSessionLogLevels(options: SessionLogLevelOptions): SessionLogLevels {
  const { datasource, definitions } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'session-log-levels' });
  const held = new Map<string, Held>();
  let closed = false;

  function learn(id: string, revision: number) {
    const parsed = parseId(id);
    if (parsed === undefined || parsed.expiresAt <= now()) return;
    const known = held.get(parsed.nonce);
    if (known !== undefined && known.revision >= revision) return;
    if (known === undefined && held.size >= (options.maxLevels ?? MAX_SHARED_LEVELS)) return;
    held.set(parsed.nonce, { level: parsed.level, revision, expiresAt: parsed.expiresAt });
  }

  async function deleteRecords(ids: string[]) {
    if (datasource === undefined) return;
    for (let start = 0; start < ids.length && !closed; start += PURGE_BATCH) {
      const slice = ids.slice(start, start + PURGE_BATCH);
      if (datasource.batch) await datasource.batch(slice.map((id) => ({ op: 'delete', kind: SESSION_LOG_LEVEL_KIND, id, untracked: true })));
      else for (const id of slice) await datasource.delete(SESSION_LOG_LEVEL_KIND, id, UNTRACKED);
    }
  }

  /** Reads every level (after a feed snapshot) and purges the expired records it finds. */
  async function reload() {
    if (datasource === undefined) return;
    try {
      const expired: string[] = [];
      for (const record of await datasource.list(SESSION_LOG_LEVEL_KIND)) {
        if ((parseId(record.id)?.expiresAt ?? 0) + PURGE_GRACE_MS <= now()) expired.push(record.id);
        else learn(record.id, record.revision);
      }
      await deleteRecords(expired);
    } catch (error) {
      logger.warn('session log levels could not be read from the store', { error: (error as Error).message });
    }
  }

  const unsubscribe =
    datasource === undefined || definitions === undefined
      ? undefined
      : definitions.onApplied((event: AppliedEvent) => {
          if (event.type === 'snapshot') return void reload();
          for (const record of event.records) if (record.kind === SESSION_LOG_LEVEL_KIND && !record.deleted) learn(record.id, record.revision);
        });
  // The first snapshot may have been applied before this was created.
  if (definitions?.status().loaded === true) void reload();

  /** Forgets expired levels and deletes every record a session may have left (one per level). */
  async function purge() {
    const cutoff = now() - PURGE_GRACE_MS;
    const expired: string[] = [];
    for (const [nonce, entry] of held) {
      if (entry.expiresAt > cutoff) continue;
      held.delete(nonce);
      for (const level of LOG_LEVELS) expired.push(idOf(nonce, entry.expiresAt, level));
    }
    if (closed) return;
    await deleteRecords(expired).catch((error: unknown) => {
      logger.warn('expired session log levels not purged', { error: (error as Error).message });
    });
  }
  const purger = setInterval(() => void purge(), options.purgeEveryMs ?? PURGE_EVERY_MS + Math.floor(Math.random() * 10_000));
  purger.unref();

  return {
    levelOf(nonce) {
      const entry = held.get(nonce);
      return entry !== undefined && entry.expiresAt > now() ? entry.level : undefined;
    },
    async set(nonce, expiresAt, level) {
      if (!isLevel(level)) return;
      const id = idOf(nonce, expiresAt, level);
      const at = parseId(id)?.expiresAt ?? expiresAt;
      // Here at once, above any level learnt so far; the store's revision, once known, orders it.
      const known = held.get(nonce);
      if (known === undefined && held.size >= (options.maxLevels ?? MAX_SHARED_LEVELS)) {
        logger.warn('too many session log levels held; this one is not shared with the other replicas', { max: options.maxLevels ?? MAX_SHARED_LEVELS });
        return;
      }
      held.set(nonce, { level, revision: known?.revision ?? 0, expiresAt: at });
      if (datasource === undefined) return;
      try {
        const record = await datasource.put(SESSION_LOG_LEVEL_KIND, id, { level, expiresAt: new Date(at).toISOString() }, UNTRACKED);
        learn(id, record.revision);
      } catch (error) {
        logger.warn('session log level not shared with the other replicas; it holds on this one', { error: (error as Error).message });
      }
    },
    async close() {
      closed = true;
      clearInterval(purger);
      unsubscribe?.();
    },
  };
}
