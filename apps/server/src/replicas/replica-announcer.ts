import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LiveDefinitions } from '@dynmcp/common';
import type { DataSource, Logger, ReplicaAnnouncement, ReplicaInfo } from '@dynmcp/plugin';

/** Who this process is: fixed at start. */
export type ReplicaIdentity = Pick<ReplicaInfo, 'id' | 'host' | 'version' | 'startedAt'>;

/** A fresh identity: a random id per process start, the host name and pid, the gateway version. */
export function createReplicaIdentity(version: string, now: () => number = Date.now): ReplicaIdentity {
  return { id: randomUUID(), host: `${hostname()} (pid ${process.pid})`, version, startedAt: now() };
}

/** Options of {@link createReplicaAnnouncer}. */
export interface ReplicaAnnouncerOptions {
  datasource: DataSource;
  definitions: LiveDefinitions;
  identity: ReplicaIdentity;
  /** Renewal interval of the entry. */
  heartbeatMs: number;
  /** Lifetime of the entry after its last renewal; more than `heartbeatMs`. */
  ttlMs: number;
  logger: Logger;
}

/** This replica's announcement in the store. */
export interface ReplicaAnnouncer {
  /** What this replica knows about itself now (from memory, whatever the store says). */
  current(): ReplicaInfo;
  /** False when the datasource keeps no announcements (a plugin without `announce`/`replicas`). */
  readonly supported: boolean;
  /** Stops renewing and removes the entry. */
  close(): Promise<void>;
}

// How soon an applied change (or a change of connectivity) reaches this replica's entry.
const CHANGE_CHECK_MS = 200;

/**
 * Announces this replica through the datasource: its entry is written once the definitions have
 * loaded, renewed every `heartbeatMs`, and rewritten within {@link CHANGE_CHECK_MS} of an applied
 * change so other replicas see its applied revision move. While the store is unreachable writes
 * fail quietly and the next heartbeat retries; the entry expires `ttlMs` after the last renewal
 * that got through.
 */
export function createReplicaAnnouncer(options: ReplicaAnnouncerOptions): ReplicaAnnouncer {
  const { datasource, definitions, identity, heartbeatMs, ttlMs } = options;
  if (!(ttlMs > heartbeatMs)) {
    throw new TypeError(`replicas.ttlMs (${ttlMs}) must be more than replicas.heartbeatMs (${heartbeatMs}), or entries expire between renewals`);
  }
  const logger = options.logger.child({ component: 'replicas', replicaId: identity.id });
  const supported = typeof datasource.announce === 'function' && typeof datasource.replicas === 'function';

  function current(): ReplicaInfo {
    const status = definitions.status();
    const { lastSyncAt } = status.store;
    return { ...identity, appliedRevision: status.revision, connected: status.ready, ...(lastSyncAt === undefined ? {} : { lastSyncAt }) };
  }

  if (!supported) {
    logger.info('datasource keeps no replica announcements; GET /admin/status lists only this replica', { datasource: datasource.name });
    return { current, supported, close: async () => {} };
  }

  const announcement: ReplicaAnnouncement = datasource.announce!(current(), { ttlMs });
  let failing = false;
  let closed = false;
  let writing = false;
  let again = false;
  // What the last write said, so a change of it is written without waiting for the heartbeat.
  let written: { revision: number; connected: boolean } | undefined;

  function renew(): void {
    if (closed) return;
    // One write at a time: while the store hangs, writes must not pile up behind each other.
    if (writing) {
      again = true;
      return;
    }
    const info = current();
    writing = true;
    written = { revision: info.appliedRevision, connected: info.connected };
    announcement.update(info).then(
      () => {
        if (failing) logger.info('replica entry renewed');
        failing = false;
      },
      (error: unknown) => {
        // Once per outage: the store's own health already tells the rest.
        if (!failing) logger.warn('replica entry not renewed; retrying at the next heartbeat', { error: (error as Error).message });
        failing = true;
      },
    ).finally(() => {
      writing = false;
      if (again) {
        again = false;
        renew();
      }
    });
  }

  // Nothing is announced before the definitions first loaded: until then the store is not open.
  const loaded = () => definitions.status().loaded;
  const heartbeat = setInterval(() => {
    if (loaded()) renew();
  }, heartbeatMs);
  heartbeat.unref();
  // A revision or connectivity change is written within this interval, so a burst of changes (an
  // import, a busy admin) costs one write per interval; checking is two reads of memory.
  const watcher = setInterval(() => {
    if (!loaded() || failing) return;
    const status = definitions.status();
    if (written === undefined || written.revision !== status.revision || written.connected !== status.ready) renew();
  }, CHANGE_CHECK_MS);
  watcher.unref();

  return {
    current,
    supported,
    async close() {
      closed = true;
      clearInterval(heartbeat);
      clearInterval(watcher);
      await announcement.close();
    },
  };
}
