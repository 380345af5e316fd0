import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GatewayError,
  type Change,
  type DataSource,
  type DataSourceHealth,
  type FeedHandlers,
  type Logger,
  type StoredRecord,
} from '@dynmcp/plugin';

/** Options of {@link createFileStore}. */
export interface FileStoreOptions {
  /** Directory holding `tds/*.json` and `ids/*.json`. */
  dir: string;
  /** How long a burst of file events is collected before it is applied (default 100 ms). */
  debounceMs?: number;
  logger: Logger;
}

const KINDS = ['tds', 'ids'] as const;
const key = (kind: string, id: string) => `${kind}/${id}`;

/**
 * A read-only datasource over a directory of JSON files. Each scan compares file contents with
 * the last scan; every difference becomes a change with the next revision of an in-memory counter.
 * Revisions therefore restart at each process start, which the contract allows: the first event a
 * watcher gets is always a full snapshot.
 */
export function createFileStore(options: FileStoreOptions): DataSource {
  const { dir, logger } = options;
  const records = new Map<string, StoredRecord & { text: string }>();
  const feeds = new Set<FeedHandlers>();
  const watchers: FSWatcher[] = [];
  let revision = 0;
  let timer: NodeJS.Timeout | undefined;
  let scanning: Promise<void> = Promise.resolve();
  let health: DataSourceHealth = { connected: false, reason: 'not open' };

  async function readKind(kind: string): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    const folder = join(dir, kind);
    for (const name of await readdir(folder)) {
      if (!name.endsWith('.json')) continue;
      files.set(name.slice(0, -'.json'.length), await readFile(join(folder, name), 'utf8'));
    }
    return files;
  }

  /** Reads the directory and turns every difference into a change; returns the changes. */
  async function scan(): Promise<Change[]> {
    const changes: Change[] = [];
    const seen = new Set<string>();
    for (const kind of KINDS) {
      for (const [id, text] of await readKind(kind)) {
        seen.add(key(kind, id));
        if (records.get(key(kind, id))?.text === text) continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          // Delivered as text: the gateway rejects it and keeps the last good version.
          logger.warn('definition file is not valid JSON', { file: `${kind}/${id}.json` });
          value = text;
        }
        revision += 1;
        records.set(key(kind, id), { kind, id, value, revision, text });
        changes.push({ type: 'put', kind, id, value, revision });
      }
    }
    for (const [name, record] of records) {
      if (seen.has(name)) continue;
      revision += 1;
      records.delete(name);
      changes.push({ type: 'delete', kind: record.kind, id: record.id, revision });
    }
    return changes;
  }

  function rescan() {
    scanning = scanning.then(async () => {
      try {
        const changes = await scan();
        health = { connected: true, lastSyncAt: Date.now() };
        if (changes.length === 0) return;
        for (const feed of feeds) feed.onEvent({ type: 'changes', revision, changes });
      } catch (error) {
        health = { connected: false, reason: (error as Error).message, lastSyncAt: health.lastSyncAt };
        for (const feed of feeds) feed.onHealth?.(health);
        logger.warn('definition directory unreadable', { error: (error as Error).message });
      }
    });
  }

  const snapshot = () =>
    [...records.values()].map(({ kind, id, value, revision: at }) => ({ kind, id, value, revision: at }));
  const readOnly = () =>
    new GatewayError('FORBIDDEN', `the file-store datasource is read-only; edit the files in ${dir} instead`);

  return {
    name: 'file-store',
    async open() {
      for (const kind of KINDS) await mkdir(join(dir, kind), { recursive: true });
      await scan();
      health = { connected: true, lastSyncAt: Date.now() };
      for (const kind of KINDS) {
        const watcher = watch(join(dir, kind), () => {
          clearTimeout(timer);
          timer = setTimeout(rescan, options.debounceMs ?? 100);
        });
        watchers.push(watcher);
      }
      logger.info('file store opened', { dir, records: records.size });
    },
    async list(kind) {
      return snapshot()
        .filter((record) => record.kind === kind)
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    },
    async get(kind, id) {
      const record = records.get(key(kind, id));
      return record && { kind, id, value: record.value, revision: record.revision };
    },
    async put() {
      throw readOnly();
    },
    async delete() {
      throw readOnly();
    },
    watch(handlers) {
      // Queue behind any scan in progress so the snapshot and later changes stay in order.
      scanning = scanning.then(() => {
        handlers.onEvent({ type: 'snapshot', revision, records: snapshot() });
        feeds.add(handlers);
      });
      return {
        async close() {
          feeds.delete(handlers);
        },
      };
    },
    health: () => ({ ...health }),
    async close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
      feeds.clear();
      await scanning;
    },
  };
}
