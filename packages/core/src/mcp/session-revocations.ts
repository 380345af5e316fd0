import type { AppliedEvent, LiveDefinitions } from '@dynmcp/common';
import type { DataSource, Logger } from '@dynmcp/plugin';

/**
 * The record kind of an ended session in the store. Its id is `<expiry>.<nonce>` (expiry in epoch
 * seconds), so a replica following the feed, which names records without their values, knows from
 * the id alone which session ended and when the record may be purged. The value repeats the
 * expiry for people reading the store.
 */
export const SESSION_REVOCATION_KIND = 'session_revoked';

/**
 * Most ended sessions held at once, until their tokens expire; a DELETE beyond it is refused
 * (503) rather than letting one caller that opens and ends sessions in a loop grow every
 * replica's memory and the store without bound.
 */
export const MAX_REVOCATIONS = 100_000;

/**
 * How often expired revocations are purged from the store, and how long after expiry: a replica
 * whose clock runs behind still refuses a token its own clock has not yet seen expire.
 */
const PURGE_EVERY_MS = 60_000;
const PURGE_GRACE_MS = 60_000;
/** Deletes per purge batch. */
const PURGE_BATCH = 100;
/**
 * Revocations and their purges are session churn, not operators' changes: no history or audit
 * entries (the feed still carries them to every replica).
 */
const UNTRACKED = { untracked: true } as const;

/** Sessions ended with DELETE, by the nonce of their token, until the token expires. */
export interface SessionRevocations {
  has(nonce: string): boolean;
  /**
   * Ends a session everywhere: records it (in the store when there is one, so every replica
   * learns it from its feed) and here at once. Rejects when it cannot be recorded: the store is
   * unreachable, or {@link MAX_REVOCATIONS} are held.
   */
  revoke(nonce: string, expiresAt: number): Promise<void>;
  /** Calls `listener` with the nonce of every revocation learnt from the feed. */
  onRevoked(listener: (nonce: string) => void): void;
  close(): Promise<void>;
}

/** Options of {@link createSessionRevocations}. */
export interface SessionRevocationOptions {
  /**
   * Where revocations are shared with the other replicas; absent when session tokens are only
   * valid in this process (no shared secret), where a revocation only needs remembering here.
   */
  datasource?: DataSource;
  /** The feed of the store, as the live definitions apply it. */
  definitions?: Pick<LiveDefinitions, 'onApplied' | 'status'>;
  logger: Logger;
  now?: () => number;
  /** Default {@link MAX_REVOCATIONS}. */
  maxRevocations?: number;
  /** How often expired revocations are purged; default every minute (plus up to 10 s, so replicas spread out). */
  purgeEveryMs?: number;
}

class RevocationsFullError extends Error {}

/** Whether `error` is the refusal of a revocation beyond {@link MAX_REVOCATIONS}. */
export const isRevocationsFull = (error: unknown): boolean => error instanceof RevocationsFullError;

/** `<expiry seconds>.<nonce>` → its parts, or `undefined` for an id of another shape. */
function parseId(id: string): { nonce: string; expiresAt: number } | undefined {
  const dot = id.indexOf('.');
  const seconds = Number(id.slice(0, dot));
  if (dot <= 0 || !Number.isSafeInteger(seconds)) return undefined;
  return { nonce: id.slice(dot + 1), expiresAt: seconds * 1000 };
}

const idOf = (nonce: string, expiresAt: number) => `${Math.ceil(expiresAt / 1000)}.${nonce}`;

/**
 * The ended sessions: a map of nonce → expiry, filled by this replica's DELETEs and by the store's
 * feed (a snapshot reloads them with `list`), emptied as tokens expire. Expired records are
 * purged from the store by every replica (deleting an absent record is a no-op, so replicas
 * purging at once do no harm).
 */
export function createSessionRevocations(options: SessionRevocationOptions): SessionRevocations {
  const { datasource, definitions } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'session-revocations' });
  const revoked = new Map<string, number>();
  const listeners = new Set<(nonce: string) => void>();
  let closed = false;

  function learn(id: string) {
    const parsed = parseId(id);
    if (parsed === undefined || parsed.expiresAt <= now()) return;
    if (revoked.has(parsed.nonce)) return;
    revoked.set(parsed.nonce, parsed.expiresAt);
    for (const listener of listeners) listener(parsed.nonce);
  }

  /** Deletes revocation records from the store, in batches; a delete of an absent record is a no-op. */
  async function deleteRecords(ids: string[]) {
    if (datasource === undefined) return;
    for (let start = 0; start < ids.length && !closed; start += PURGE_BATCH) {
      const slice = ids.slice(start, start + PURGE_BATCH);
      if (datasource.batch) await datasource.batch(slice.map((id) => ({ op: 'delete', kind: SESSION_REVOCATION_KIND, id, untracked: true })));
      else for (const id of slice) await datasource.delete(SESSION_REVOCATION_KIND, id, UNTRACKED);
    }
    if (ids.length > 0) logger.info('expired session revocations purged', { count: ids.length });
  }

  /** Reads every revocation (after a feed snapshot); purges the expired ones it finds, whoever wrote them. */
  async function reload() {
    if (datasource === undefined) return;
    try {
      const expired: string[] = [];
      for (const record of await datasource.list(SESSION_REVOCATION_KIND)) {
        if ((parseId(record.id)?.expiresAt ?? 0) + PURGE_GRACE_MS <= now()) expired.push(record.id);
        else learn(record.id);
      }
      await deleteRecords(expired);
    } catch (error) {
      logger.warn('ended sessions could not be read from the store', { error: (error as Error).message });
    }
  }

  const unsubscribe =
    datasource === undefined || definitions === undefined
      ? undefined
      : definitions.onApplied((event: AppliedEvent) => {
          if (event.type === 'snapshot') return void reload();
          for (const record of event.records) if (record.kind === SESSION_REVOCATION_KIND && !record.deleted) learn(record.id);
        });
  // The first snapshot may have been applied before this was created.
  if (definitions?.status().loaded === true) void reload();

  /** Forgets expired revocations and deletes their records (the same ones on every replica; see deleteRecords). */
  async function purge() {
    const cutoff = now() - PURGE_GRACE_MS;
    const expired: string[] = [];
    for (const [nonce, expiresAt] of revoked) {
      if (expiresAt > cutoff) continue;
      revoked.delete(nonce);
      expired.push(idOf(nonce, expiresAt));
    }
    if (closed) return;
    await deleteRecords(expired).catch((error: unknown) => {
      logger.warn('expired session revocations not purged', { error: (error as Error).message });
    });
  }
  // Replicas started together would purge together; a random offset spreads them.
  const purger = setInterval(() => void purge(), options.purgeEveryMs ?? PURGE_EVERY_MS + Math.floor(Math.random() * 10_000));
  purger.unref();

  return {
    has: (nonce) => revoked.has(nonce),
    async revoke(nonce, expiresAt) {
      const cap = options.maxRevocations ?? MAX_REVOCATIONS;
      if (revoked.size >= cap) {
        await purge();
        if (revoked.size >= cap) throw new RevocationsFullError('too many ended sessions held until they expire');
      }
      const id = idOf(nonce, expiresAt);
      if (datasource !== undefined) await datasource.put(SESSION_REVOCATION_KIND, id, { expiresAt: new Date(expiresAt).toISOString() }, UNTRACKED);
      // Kept with the expiry the id says, so a purge here deletes the very record written.
      revoked.set(nonce, parseId(id)?.expiresAt ?? expiresAt);
    },
    onRevoked(listener) {
      listeners.add(listener);
    },
    async close() {
      closed = true;
      clearInterval(purger);
      unsubscribe?.();
      listeners.clear();
    },
  };
}
