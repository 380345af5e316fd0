import type { DataSource, ReplicaInfo } from '@dynmcp/plugin';
import type { ReplicaAnnouncer } from './replica-announcer.js';

/** One replica as `GET /admin/status` shows it. */
export interface ReplicaStatusEntry {
  id: string;
  host: string;
  version: string;
  /** ISO 8601. */
  started_at: string;
  applied_revision: number;
  connected: boolean;
  /** ISO 8601, or null when the replica's feed was never current. */
  last_sync_at: string | null;
  /** `store_revision - applied_revision` (never below 0), or null when the store revision is unknown. */
  lag: number | null;
}

/** The `data` of `GET /admin/status`. */
export interface GatewayStatus {
  /** The revision of the store's latest definitions change, or null when unknown. */
  store_revision: number | null;
  /** The id of the replica that answered. */
  replica_id: string;
  /** Every replica with a live entry, ordered by id; the answering one from its own memory. */
  replicas: ReplicaStatusEntry[];
  /** Why the listing is partial, when it is. */
  note?: string;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function entry(info: ReplicaInfo, storeRevision: number | null): ReplicaStatusEntry {
  return {
    id: info.id,
    host: info.host,
    version: info.version,
    started_at: new Date(info.startedAt).toISOString(),
    applied_revision: info.appliedRevision,
    connected: info.connected,
    last_sync_at: iso(info.lastSyncAt),
    // etcd: a replica that loaded a snapshot holds etcd's cluster-wide revision, which may be above
    // the newest definition's; it has applied everything, so its lag is 0, not negative.
    lag: storeRevision === null ? null : Math.max(0, storeRevision - info.appliedRevision),
  };
}

/**
 * The replica listing of `GET /admin/status`: the store's announcements, with this replica's own
 * entry replaced by what it knows from memory (its entry in the store may be a heartbeat old, or
 * not written yet). Without announcements in the datasource, or while the store does not answer,
 * only this replica, with a note saying why.
 */
export async function replicaStatus(datasource: DataSource, announcer: ReplicaAnnouncer): Promise<GatewayStatus> {
  const self = announcer.current();
  const alone = (note: string): GatewayStatus => ({ store_revision: null, replica_id: self.id, replicas: [entry(self, null)], note });
  if (!announcer.supported || datasource.replicas === undefined) {
    return alone(`datasource "${datasource.name}" keeps no replica announcements (no announce() and replicas()); only this replica is listed`);
  }
  let listing;
  try {
    listing = await datasource.replicas();
  } catch (error) {
    return alone(`the store did not answer (${(error as Error).message}); only this replica is listed`);
  }
  const replicas = [...listing.replicas.filter((info) => info.id !== self.id), self].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { store_revision: listing.revision, replica_id: self.id, replicas: replicas.map((info) => entry(info, listing.revision)) };
}
