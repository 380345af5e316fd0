import type { DataSourceHealth, Logger } from '@dynmcp/plugin';

/** The reason a datasource gives before its first `open()` succeeds. */
export const NOT_OPEN = 'not open';

/** Connectivity of one datasource, with its transitions logged once and reported to its feeds. */
export interface HealthTracker {
  /** The health now; while connected the store is current, so `lastSyncAt` is now. */
  current(): DataSourceHealth;
  connected(): void;
  /** `quiet`: no log line (a shutdown is not an outage). */
  disconnected(reason: string, options?: { quiet?: boolean }): void;
}

/** Options of {@link createHealthTracker}. */
export interface HealthTrackerOptions {
  logger: Logger;
  now: () => number;
  /** Called on every change of connectivity or reason, e.g. to tell the feeds' `onHealth`. */
  onChange(health: DataSourceHealth): void;
}

/**
 * Tracks a datasource's health. Transitions are logged once (not once per failed poll or retry);
 * the first successful open is not logged as a recovery. `lastSyncAt` is the last moment the store
 * was known current: now while connected, the moment it was last seen connected otherwise.
 */
export function createHealthTracker(options: HealthTrackerOptions): HealthTracker {
  const { logger, now } = options;
  let health: DataSourceHealth = { connected: false, reason: NOT_OPEN };

  function change(next: DataSourceHealth, quiet: boolean) {
    const previous = health;
    health = next;
    if (previous.connected === next.connected && previous.reason === next.reason) return;
    if (!quiet && previous.connected && !next.connected) logger.warn('store unreachable', { reason: next.reason });
    if (!quiet && !previous.connected && next.connected && previous.reason !== NOT_OPEN) logger.info('store reachable');
    try {
      options.onChange({ ...next });
    } catch (error) {
      logger.error('health handler failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  return {
    current: () => (health.connected ? { connected: true, lastSyncAt: now() } : { ...health }),
    connected: () => change({ connected: true, lastSyncAt: now() }, false),
    disconnected(reason, { quiet = false } = {}) {
      const lastSyncAt = health.connected ? now() : health.lastSyncAt;
      change({ connected: false, reason, ...(lastSyncAt === undefined ? {} : { lastSyncAt }) }, quiet);
    },
  };
}
