import { TOOL_LOG_LEVELS, type ToolLogLevel } from '@dynmcp/plugin';
import { followSessionRecords, type SharedRecordOptions } from './session-records.js';

/**
 * The record kind of a 2025-era session's log level (`logging/setLevel`) in the store, so that a
 * replica serving a session opened or set elsewhere sends the client the log messages it asked
 * for. Its id is `<expiry>.<nonce>.<level>` (expiry in epoch seconds): a replica following the
 * feed, which names records without their values, learns the level from the id alone, and the
 * latest write for a session (the highest revision) is its level. At most one record per session
 * and level; all go once the token has expired.
 */
export const SESSION_LOG_LEVEL_KIND = 'session_level';

const SEVERITY: ReadonlyMap<string, number> = new Map(TOOL_LOG_LEVELS.map((level, index) => [level, index]));

/** Sessions whose level is held at most; beyond it a new level is neither shared nor applied (logged). */
export const MAX_SHARED_LEVELS = 100_000;

/** The log levels of sessions, as set through any replica. */
export interface SessionLogLevels {
  /** The level last set for the session with `nonce`, through any replica; `undefined` when none. */
  levelOf(nonce: string): ToolLogLevel | undefined;
  /**
   * Records `level` for a session: here at once, and in the store (when sessions are shared) for
   * the other replicas, which learn it from their feed. Never rejects: a level that cannot be
   * shared still holds on this replica, and the log says why.
   */
  set(nonce: string, expiresAt: number, level: string): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link createSessionLogLevels}. */
export interface SessionLogLevelOptions extends SharedRecordOptions {
  /** Default {@link MAX_SHARED_LEVELS}. */
  maxLevels?: number;
}

/** True when a message at `level` is below `floor` (so not sent). */
export function belowLevel(level: string, floor: ToolLogLevel): boolean {
  return (SEVERITY.get(level) ?? TOOL_LOG_LEVELS.length) < (SEVERITY.get(floor) ?? 0);
}

const isLevel = (text: string): text is ToolLogLevel => SEVERITY.has(text);

/** `<expiry seconds>.<nonce>.<level>` → its parts, or `undefined` for an id of another shape. */
function parseId(id: string): { nonce: string; expiresAt: number; level: ToolLogLevel } | undefined {
  const first = id.indexOf('.');
  const last = id.lastIndexOf('.');
  const seconds = Number(id.slice(0, first));
  const level = id.slice(last + 1);
  if (first <= 0 || last <= first + 1 || !Number.isSafeInteger(seconds) || !isLevel(level)) return undefined;
  return { nonce: id.slice(first + 1, last), expiresAt: seconds * 1000, level };
}

const idOf = (nonce: string, expiresAt: number, level: ToolLogLevel) => `${Math.ceil(expiresAt / 1000)}.${nonce}.${level}`;

interface Held {
  level: ToolLogLevel;
  revision: number;
  expiresAt: number;
  /** The levels this session has records of (one each), so a purge deletes only those. */
  written: Set<ToolLogLevel>;
}

/**
 * The log levels of sessions, filled by this replica's `logging/setLevel` requests and by the
 * store's feed, emptied as tokens expire (session-records.ts follows and purges the records).
 */
export function createSessionLogLevels(options: SessionLogLevelOptions): SessionLogLevels {
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'session-log-levels' });
  const max = options.maxLevels ?? MAX_SHARED_LEVELS;
  const held = new Map<string, Held>();

  function learn(id: string, revision: number) {
    const parsed = parseId(id);
    if (parsed === undefined) return;
    const known = held.get(parsed.nonce);
    if (known === undefined && held.size >= max) return;
    known?.written.add(parsed.level);
    if (known !== undefined && known.revision >= revision) return;
    held.set(parsed.nonce, { level: parsed.level, revision, expiresAt: parsed.expiresAt, written: known?.written ?? new Set([parsed.level]) });
  }

  const records = followSessionRecords({
    kind: SESSION_LOG_LEVEL_KIND,
    datasource: options.datasource,
    definitions: options.definitions,
    logger,
    now,
    purgeEveryMs: options.purgeEveryMs,
    expiryOf: (id) => parseId(id)?.expiresAt,
    learn,
    forget(cutoff) {
      const expired: string[] = [];
      for (const [nonce, entry] of held) {
        if (entry.expiresAt > cutoff) continue;
        held.delete(nonce);
        for (const level of entry.written) expired.push(idOf(nonce, entry.expiresAt, level));
      }
      return expired;
    },
  });

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
      if (known === undefined && held.size >= max) {
        logger.warn('too many session log levels held; this one is neither shared nor applied', { max });
        return;
      }
      known?.written.add(level);
      held.set(nonce, { level, revision: known?.revision ?? 0, expiresAt: at, written: known?.written ?? new Set([level]) });
      try {
        const record = await records.put(id, { level, expiresAt: new Date(at).toISOString() });
        if (record !== undefined) learn(id, record.revision);
      } catch (error) {
        logger.warn('session log level not shared with the other replicas; it holds on this one', { error: (error as Error).message });
      }
    },
    close: () => records.close(),
  };
}
