import { followSessionRecords, type SharedRecordOptions } from './session-records.js';

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
export interface SessionRevocationOptions extends SharedRecordOptions {
  /** Default {@link MAX_REVOCATIONS}. */
  maxRevocations?: number;
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
 * feed, emptied as tokens expire (session-records.ts follows and purges the records).
 */
export function createSessionRevocations(options: SessionRevocationOptions): SessionRevocations {
  const now = options.now ?? Date.now;
  const revoked = new Map<string, number>();
  const listeners = new Set<(nonce: string) => void>();
  const records = followSessionRecords({
    kind: SESSION_REVOCATION_KIND,
    datasource: options.datasource,
    definitions: options.definitions,
    logger: options.logger.child({ component: 'session-revocations' }),
    now,
    purgeEveryMs: options.purgeEveryMs,
    expiryOf: (id) => parseId(id)?.expiresAt,
    learn(id) {
      const parsed = parseId(id);
      if (parsed === undefined || revoked.has(parsed.nonce)) return;
      revoked.set(parsed.nonce, parsed.expiresAt);
      for (const listener of listeners) listener(parsed.nonce);
    },
    forget(cutoff) {
      const expired: string[] = [];
      for (const [nonce, expiresAt] of revoked) {
        if (expiresAt > cutoff) continue;
        revoked.delete(nonce);
        expired.push(idOf(nonce, expiresAt));
      }
      return expired;
    },
  });

  return {
    has: (nonce) => revoked.has(nonce),
    async revoke(nonce, expiresAt) {
      const cap = options.maxRevocations ?? MAX_REVOCATIONS;
      if (revoked.size >= cap) {
        await records.purge();
        if (revoked.size >= cap) throw new RevocationsFullError('too many ended sessions held until they expire');
      }
      const id = idOf(nonce, expiresAt);
      await records.put(id, { expiresAt: new Date(expiresAt).toISOString() });
      // Kept with the expiry the id says, so a purge here deletes the very record written.
      revoked.set(nonce, parseId(id)?.expiresAt ?? expiresAt);
    },
    onRevoked(listener) {
      listeners.add(listener);
    },
    async close() {
      await records.close();
      listeners.clear();
    },
  };
}
