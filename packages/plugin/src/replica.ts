/**
 * Replica announcements: each gateway process tells the store that it runs and how current it is,
 * so any replica can list all of them (`GET /admin/status`). Announcements are not definitions:
 * they stay out of the change feed and take no revision where the store allows it.
 */

/** What one replica says about itself. */
export interface ReplicaInfo {
  /** Random per process start, so a restarted process is a new replica. */
  id: string;
  /** Where it runs, e.g. `host-name (pid 1234)`. */
  host: string;
  /** The gateway's version. */
  version: string;
  /** Epoch ms of the process start. */
  startedAt: number;
  /** The revision its live definitions have applied. */
  appliedRevision: number;
  /** Whether its store connection and feed are current. */
  connected: boolean;
  /** Epoch ms of the last moment its feed was known current, when known. */
  lastSyncAt?: number;
}

/** A running announcement of one replica (see {@link DataSource.announce}). */
export interface ReplicaAnnouncement {
  /**
   * Writes `info` (same `id`) and renews the entry's expiry; the entry appears at the first call.
   * Rejects while the store is unreachable; the next call tries again.
   */
  update(info: ReplicaInfo): Promise<void>;
  /** Removes the entry (best effort) and stops renewing it. */
  close(): Promise<void>;
}

/** What {@link DataSource.replicas} lists. */
export interface ReplicaListing {
  /**
   * The revision of the latest definitions change the store knows of, the one every replica should
   * have applied; announcements never move it.
   */
  revision: number;
  /** Every replica whose entry has not expired, ordered by id. */
  replicas: ReplicaInfo[];
}
