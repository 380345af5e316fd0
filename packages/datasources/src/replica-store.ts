import type { DataSource, ReplicaAnnouncement, ReplicaInfo, ReplicaListing } from '@dynmcp/plugin';

/**
 * Replica announcements of one store, beside its records (see `sql-replicas.ts`,
 * `etcd-replicas.ts`). Operations throw what their driver throws; the datasource wraps it once.
 */
export interface ReplicaStore<Client> {
  /** A handle for one replica; `client()` throws while the store is not open. */
  announce(client: () => Client, info: ReplicaInfo, ttlMs: number): ReplicaAnnouncement;
  list(client: Client): Promise<ReplicaListing>;
}

/**
 * `announce` and `replicas` of a datasource over `store`, failures wrapped as the datasource's
 * own; nothing when the store keeps no announcements.
 */
export function replicaMethods<Client>(
  store: ReplicaStore<Client> | undefined,
  client: () => Client,
  wrap: (error: unknown) => Error,
): Pick<DataSource, 'announce' | 'replicas'> {
  if (store === undefined) return {};
  const rethrow = (error: unknown): never => {
    throw wrap(error);
  };
  return {
    announce(info, { ttlMs }) {
      const announcement = store.announce(client, info, ttlMs);
      return {
        update: (next) => announcement.update(next).catch(rethrow),
        close: () => announcement.close(),
      };
    },
    replicas: async () => {
      try {
        return await store.list(client());
      } catch (error) {
        return rethrow(error);
      }
    },
  };
}

/**
 * An announcement handle over a store's own `write` and `remove`: one write at a time, so
 * `close()` can never be overtaken by an update still in flight, and nothing after `close()`.
 */
export function serialAnnouncement(write: (info: ReplicaInfo) => Promise<void>, remove: () => Promise<void>): ReplicaAnnouncement {
  let closed = false;
  let pending: Promise<void> = Promise.resolve();
  return {
    update(next) {
      if (closed) return Promise.resolve();
      const run = pending.then(() => (closed ? undefined : write(next)));
      pending = run.catch(() => undefined);
      return run;
    },
    async close() {
      if (closed) return;
      closed = true;
      await pending;
      await remove();
    },
  };
}

/** The stored form of an announcement: its info as JSON. */
export function encodeReplica(info: ReplicaInfo): string {
  return JSON.stringify(info);
}

/** An announcement read back, or `undefined` when it is not one (written by hand, or by a newer version). */
export function decodeReplica(text: string): ReplicaInfo | undefined {
  try {
    const value = JSON.parse(text) as Partial<ReplicaInfo> | null;
    if (value === null || typeof value !== 'object') return undefined;
    const { id, host, version, startedAt, appliedRevision, connected, lastSyncAt } = value;
    if (typeof id !== 'string' || typeof host !== 'string' || typeof version !== 'string') return undefined;
    if (typeof startedAt !== 'number' || typeof appliedRevision !== 'number' || typeof connected !== 'boolean') return undefined;
    return { id, host, version, startedAt, appliedRevision, connected, ...(typeof lastSyncAt === 'number' ? { lastSyncAt } : {}) };
  } catch {
    return undefined;
  }
}

/** Announcements ordered by id, as `DataSource.replicas` lists them. */
export const byId = (a: ReplicaInfo, b: ReplicaInfo) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
