import type {
  Change,
  DataSource,
  DataSourceHealth,
  FeedEvent,
  FeedSubscription,
  InstanceDefinition,
  Logger,
  ProtoType,
  StoredRecord,
} from '@dynmcp/plugin';
import {
  compileToolDefinition,
  instanceProtoType,
  parseInstanceDefinition,
  type SchemaCompiler,
} from '../model/index.js';
import { buildInstanceView, toolListing, type InstanceView, type LiveTool } from './instance-view.js';

/** What changed in one applied feed event. */
export interface DefinitionsChange {
  revision: number;
  /** Instances whose served tool set changed (a tool added, edited, removed, or tool_ids changed). */
  changedInstances: string[];
  /** Instances that no longer exist. */
  deletedInstances: string[];
}

/** Readiness of the live definitions, for `/readyz` and logs. */
export interface DefinitionsStatus {
  /** The store is reachable and its configuration applied. */
  ready: boolean;
  /** A configuration was loaded at least once (possibly stale now). */
  loaded: boolean;
  /** Milliseconds since the configuration was last known current; 0 while connected. */
  staleMs: number;
  revision: number;
  store: DataSourceHealth;
  /** Records in the store that are not valid definitions (ignored; their last good version kept). */
  invalidRecords: number;
}

/**
 * The in-memory configuration every request reads. It is built from the store's feed only: a
 * snapshot at start, then changes in revision order. The hot path reads immutable instance views;
 * nothing here does I/O per request. A record that fails validation never replaces a good one.
 */
export interface LiveDefinitions {
  /** Starts the feed; resolves once the first snapshot is applied. */
  start(): Promise<void>;
  instance(id: string): InstanceView | undefined;
  tool(id: string): LiveTool | undefined;
  /** Ids of the instances whose `tool_ids` list `toolId` (whether or not the tool exists), sorted. */
  instancesUsing(toolId: string): string[];
  /** Revision of the last applied feed event. */
  readonly revision: number;
  /** Registers a listener for applied changes; returns the function that removes it. */
  onChange(listener: (change: DefinitionsChange) => void): () => void;
  /** Resolves true once `revision` is applied, false after `timeoutMs`. */
  waitForRevision(revision: number, timeoutMs: number): Promise<boolean>;
  status(): DefinitionsStatus;
  close(): Promise<void>;
}

interface InstanceEntry {
  definition: InstanceDefinition;
  protoType: ProtoType;
  revision: number;
}

/** Options of {@link createLiveDefinitions}. */
export interface LiveDefinitionsOptions {
  datasource: DataSource;
  compiler: SchemaCompiler;
  logger: Logger;
}

/** Creates the live definitions over a datasource's feed. */
export function createLiveDefinitions(options: LiveDefinitionsOptions): LiveDefinitions {
  const { datasource, compiler } = options;
  const logger = options.logger.child({ component: 'definitions' });
  const tools = new Map<string, LiveTool>();
  const instances = new Map<string, InstanceEntry>();
  const usedBy = new Map<string, Set<string>>(); // tool id → instance ids listing it
  const views = new Map<string, InstanceView>();
  const invalid = new Set<string>(); // `${kind}/${id}` of records currently invalid in the store
  const listeners = new Set<(change: DefinitionsChange) => void>();
  const waiters = new Set<{ revision: number; resolve: (ok: boolean) => void }>();
  let revision = 0;
  let synced = false;
  const startedAt = Date.now();
  let subscription: FeedSubscription | undefined;
  let onFirstSnapshot: (() => void) | undefined;

  function link(entry: InstanceEntry, add: boolean) {
    for (const toolId of entry.definition.tool_ids) {
      let set = usedBy.get(toolId);
      if (add) {
        if (!set) usedBy.set(toolId, (set = new Set()));
        set.add(entry.definition.id);
      } else if (set) {
        set.delete(entry.definition.id);
        if (set.size === 0) usedBy.delete(toolId);
      }
    }
  }

  function markInvalid(kind: string, id: string, at: number, error: unknown) {
    invalid.add(`${kind}/${id}`);
    logger.error('invalid definition in store ignored; last good version kept', {
      kind,
      id,
      revision: at,
      error: (error as Error).message,
    });
  }

  /** Applies one put or delete; returns the instances it affects. */
  function apply(kind: string, id: string, value: unknown, at: number, affected: Set<string>) {
    if (kind === 'tds') {
      const previous = tools.get(id);
      if (value === undefined) {
        if (!previous) return;
        tools.delete(id);
        previous.release();
      } else {
        let compiled;
        try {
          compiled = compileToolDefinition(value, compiler, id);
        } catch (error) {
          return markInvalid(kind, id, at, error);
        }
        tools.set(id, { ...compiled, revision: at, listing: toolListing(compiled.definition) });
        previous?.release();
      }
      invalid.delete(`${kind}/${id}`);
      for (const instanceId of usedBy.get(id) ?? []) affected.add(instanceId);
    } else if (kind === 'ids') {
      const previous = instances.get(id);
      if (value === undefined) {
        if (!previous) return;
        link(previous, false);
        instances.delete(id);
      } else {
        let entry: InstanceEntry;
        try {
          const definition = parseInstanceDefinition(value, id);
          entry = { definition, protoType: instanceProtoType(definition), revision: at };
        } catch (error) {
          return markInvalid(kind, id, at, error);
        }
        if (previous) link(previous, false);
        link(entry, true);
        instances.set(id, entry);
      }
      invalid.delete(`${kind}/${id}`);
      affected.add(id);
    }
  }

  function applySnapshot(records: StoredRecord[], affected: Set<string>) {
    const seen = new Set(records.map((record) => `${record.kind}/${record.id}`));
    // Deletes first, so a tool gone from the store stops being served.
    for (const id of [...tools.keys()]) if (!seen.has(`tds/${id}`)) apply('tds', id, undefined, 0, affected);
    for (const id of [...instances.keys()]) if (!seen.has(`ids/${id}`)) apply('ids', id, undefined, 0, affected);
    for (const key of [...invalid]) if (!seen.has(key)) invalid.delete(key);
    // Tools before instances, then only records whose revision moved.
    const ordered = [...records].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'tds' ? -1 : 1));
    for (const record of ordered) {
      const known = record.kind === 'tds' ? tools.get(record.id) : instances.get(record.id);
      if (known && known.revision === record.revision) continue;
      apply(record.kind, record.id, record.value, record.revision, affected);
    }
  }

  function onEvent(event: FeedEvent) {
    const affected = new Set<string>();
    if (event.type === 'snapshot') {
      applySnapshot(event.records, affected);
    } else {
      for (const change of event.changes as Change[]) {
        apply(change.kind, change.id, change.type === 'put' ? change.value : undefined, change.revision, affected);
      }
    }
    revision = Math.max(revision, event.revision);
    if (event.type === 'snapshot') revision = event.revision;
    const changedInstances: string[] = [];
    const deletedInstances: string[] = [];
    for (const id of affected) {
      views.delete(id);
      (instances.has(id) ? changedInstances : deletedInstances).push(id);
    }
    if (!synced && event.type === 'snapshot') {
      synced = true;
      logger.info('configuration loaded', { revision, tools: tools.size, instances: instances.size });
      onFirstSnapshot?.();
    }
    for (const waiter of waiters) {
      if (revision >= waiter.revision) {
        waiters.delete(waiter);
        waiter.resolve(true);
      }
    }
    if (changedInstances.length + deletedInstances.length === 0) return;
    const change = { revision, changedInstances, deletedInstances };
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        logger.error('definitions change listener failed', { error: (error as Error).message });
      }
    }
  }

  return {
    start() {
      return new Promise<void>((resolve) => {
        onFirstSnapshot = resolve;
        subscription = datasource.watch({
          onEvent,
          onHealth: (health) =>
            logger[health.connected ? 'info' : 'warn']('store connectivity changed', { ...health }),
        });
      });
    },
    instance(id) {
      let view = views.get(id);
      if (view === undefined) {
        const entry = instances.get(id);
        if (entry === undefined) return undefined;
        view = buildInstanceView(entry.definition, entry.protoType, tools, logger);
        views.set(id, view);
      }
      return view;
    },
    tool: (id) => tools.get(id),
    instancesUsing: (toolId) => [...(usedBy.get(toolId) ?? [])].sort(),
    get revision() {
      return revision;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForRevision(target, timeoutMs) {
      if (revision >= target) return Promise.resolve(true);
      return new Promise((resolve) => {
        const waiter = {
          revision: target,
          resolve: (ok: boolean) => {
            clearTimeout(timer);
            resolve(ok);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          resolve(false);
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    status() {
      const store = datasource.health();
      const ready = synced && store.connected;
      const staleMs = ready ? 0 : Math.max(0, Date.now() - (store.lastSyncAt ?? startedAt));
      return { ready, loaded: synced, staleMs, revision, store, invalidRecords: invalid.size };
    },
    async close() {
      await subscription?.close();
      for (const waiter of waiters) waiter.resolve(false);
      waiters.clear();
      listeners.clear();
    },
  };
}
