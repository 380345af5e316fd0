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
import { slicer } from '../slices.js';
import { isSelector } from './tool-overrides.js';

/** What changed in one applied feed event. */
export interface DefinitionsChange {
  revision: number;
  /** Instances whose served tool set changed (a tool added, edited, removed, or tool_ids changed). */
  changedInstances: string[];
  /** Instances that no longer exist. */
  deletedInstances: string[];
}

/**
 * One feed event as applied, for listeners that follow every write (the admin change stream):
 * `changes` names each record of the event with its revision, never its value; `snapshot` says the
 * feed lost track and everything held was replaced, so a follower must start over.
 */
export type AppliedEvent =
  | { type: 'snapshot'; revision: number }
  | { type: 'changes'; revision: number; records: AppliedRecord[] };

/** One record of an applied `changes` event; a record that failed validation is listed too (the store changed). */
export interface AppliedRecord {
  kind: string;
  id: string;
  revision: number;
  deleted: boolean;
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
  /** Ids of the instances whose `tool_ids` list `toolId` or a selector taking it (whether or not the tool exists), sorted. */
  instancesUsing(toolId: string): string[];
  /** Ids of every valid tool held, in no particular order (what `tool_ids` selectors are expanded against). */
  toolIds(): Iterable<string>;
  /** Revision of the last applied feed event. */
  readonly revision: number;
  /** Registers a listener for applied changes; returns the function that removes it. */
  onChange(listener: (change: DefinitionsChange) => void): () => void;
  /**
   * Registers a listener called once per applied feed event, after it is visible (unlike
   * `onChange`, also when no instance is affected); returns the function that removes it.
   */
  onApplied(listener: (event: AppliedEvent) => void): () => void;
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

/** One put or delete of a feed event, compiled but not yet visible; neither `tool` nor `instance`: a delete. */
interface Prepared {
  kind: string;
  id: string;
  at: number;
  tool?: LiveTool;
  instance?: InstanceEntry;
  /** Why the put is not a valid definition. */
  error?: unknown;
}

/** Changes in an event above which its compiling starts only after a turn of the event loop. */
const YIELD_FIRST_ABOVE = 64;

/** Options of {@link createLiveDefinitions}. */
export interface LiveDefinitionsOptions {
  datasource: DataSource;
  compiler: SchemaCompiler;
  logger: Logger;
  /** Followers of record kinds that are not definitions (the per-principal credentials). */
  sinks?: readonly RecordSink[];
}

/**
 * Follows the records of one kind that is not a definition, applied in the same synchronous swap
 * as the definitions of the event carrying them, so `waitForRevision` covers them too. Its methods
 * must be quick and must not throw.
 */
export interface RecordSink {
  readonly kind: string;
  /** A snapshot: these are now all the records of the kind. */
  replace(records: readonly StoredRecord[]): void;
  put(id: string, value: unknown, revision: number): void;
  delete(id: string): void;
}

/** Creates the live definitions over a datasource's feed. */
export function createLiveDefinitions(options: LiveDefinitionsOptions): LiveDefinitions {
  const { datasource, compiler } = options;
  const logger = options.logger.child({ component: 'definitions' });
  const tools = new Map<string, LiveTool>();
  const instances = new Map<string, InstanceEntry>();
  const usedBy = new Map<string, Set<string>>(); // tool id → instance ids listing it
  const selecting = new Map<string, Set<string>>(); // selector prefix → instance ids listing `${prefix}*`
  const views = new Map<string, InstanceView>();
  const invalid = new Set<string>(); // `${kind}/${id}` of records currently invalid in the store
  const listeners = new Set<(change: DefinitionsChange) => void>();
  const appliedListeners = new Set<(event: AppliedEvent) => void>();
  const waiters = new Set<{ revision: number; resolve: (ok: boolean) => void }>();
  let revision = 0;
  let synced = false;
  const startedAt = Date.now();
  let subscription: FeedSubscription | undefined;
  let onFirstSnapshot: (() => void) | undefined;
  // Feed events wait here while an earlier one is still compiling, so they apply strictly in order.
  const queue: FeedEvent[] = [];
  let draining = false;
  let closed = false;

  /** Instance ids whose selectors take `toolId`. */
  function selectedBy(toolId: string): string[] {
    const out: string[] = [];
    for (const [prefix, ids] of selecting) if (toolId.startsWith(prefix)) out.push(...ids);
    return out;
  }

  function link(entry: InstanceEntry, add: boolean) {
    for (const listed of entry.definition.tool_ids) {
      const selector = isSelector(listed);
      const toolId = selector ? listed.slice(0, -1) : listed;
      const index = selector ? selecting : usedBy;
      let set = index.get(toolId);
      if (add) {
        if (!set) index.set(toolId, (set = new Set()));
        set.add(entry.definition.id);
      } else if (set) {
        set.delete(entry.definition.id);
        if (set.size === 0) index.delete(toolId);
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

  /**
   * Compiles or parses one put (`value` undefined: a delete) without touching what readers see.
   * A tool's schemas are checked here (everything that decides whether they compile) while their
   * validators' code, several milliseconds each for a large schema, is generated on the tool's
   * first call (see `SchemaCompiler`); a schema this replica's admin API just checked for the
   * write is still held in the shared compiler, so checking it here is a lookup.
   */
  function prepare(kind: string, id: string, value: unknown, at: number): Prepared {
    if (value === undefined) return { kind, id, at };
    try {
      if (kind === 'tds') {
        const compiled = compileToolDefinition(value, compiler, id);
        return { kind, id, at, tool: { ...compiled, revision: at, listing: toolListing(compiled.definition) } };
      }
      if (kind === 'ids') {
        const definition = parseInstanceDefinition(value, id);
        return { kind, id, at, instance: { definition, protoType: instanceProtoType(definition), revision: at } };
      }
    } catch (error) {
      return { kind, id, at, error };
    }
    return { kind, id, at };
  }

  /** Applies one prepared put or delete; adds the instances it affects to `affected`. */
  function commit(change: Prepared, affected: Set<string>) {
    const { kind, id, at } = change;
    if (change.error !== undefined) return markInvalid(kind, id, at, change.error);
    if (kind === 'tds') {
      const previous = tools.get(id);
      if (change.tool === undefined) {
        if (!previous) return;
        tools.delete(id);
      } else {
        tools.set(id, change.tool);
      }
      previous?.release();
      invalid.delete(`${kind}/${id}`);
      for (const instanceId of usedBy.get(id) ?? []) affected.add(instanceId);
      for (const instanceId of selectedBy(id)) affected.add(instanceId);
    } else if (kind === 'ids') {
      const previous = instances.get(id);
      if (change.instance === undefined) {
        if (!previous) return;
        link(previous, false);
        instances.delete(id);
      } else {
        if (previous) link(previous, false);
        link(change.instance, true);
        instances.set(id, change.instance);
      }
      invalid.delete(`${kind}/${id}`);
      affected.add(id);
    }
  }

  /**
   * The puts and deletes that turn what is held into the snapshot: deletes first, so a tool gone
   * from the store stops being served, then tools before instances, and only records whose
   * revision moved.
   */
  function snapshotChanges(records: StoredRecord[]): Array<{ kind: string; id: string; value: unknown; at: number }> {
    const seen = new Set(records.map((record) => `${record.kind}/${record.id}`));
    const changes: Array<{ kind: string; id: string; value: unknown; at: number }> = [];
    for (const id of tools.keys()) if (!seen.has(`tds/${id}`)) changes.push({ kind: 'tds', id, value: undefined, at: 0 });
    for (const id of instances.keys()) if (!seen.has(`ids/${id}`)) changes.push({ kind: 'ids', id, value: undefined, at: 0 });
    const ordered = [...records].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'tds' ? -1 : 1));
    for (const record of ordered) {
      const known = record.kind === 'tds' ? tools.get(record.id) : instances.get(record.id);
      if (known && known.revision === record.revision) continue;
      changes.push({ kind: record.kind, id: record.id, value: record.value, at: record.revision });
    }
    return changes;
  }

  /**
   * Applies one feed event in two phases. First every changed record is compiled, in slices of
   * about {@link SLICE_MS}: one event can carry a thousand tools (an imported REST API), whose
   * checks take a good part of a second, and /mcp must keep answering meanwhile. Then everything
   * is swapped in synchronously, so a reader sees the whole event or none of it, and `revision`,
   * waiters and listeners move only then. An event that compiles within one slice, the common
   * case, is applied before `onEvent` returns when no earlier event is still being applied.
   *
   * Checking every schema before the swap, and leaving only the code generation of its validator
   * to the first call, keeps "a record that fails validation never replaces a good one": whether
   * the new version compiles is known before it is served.
   */
  async function applyEvent(event: FeedEvent): Promise<void> {
    const pending =
      event.type === 'snapshot'
        ? snapshotChanges(event.records)
        : (event.changes as Change[]).map((change) => ({
            kind: change.kind,
            id: change.id,
            value: change.type === 'put' ? change.value : undefined,
            at: change.revision,
          }));
    const prepared: Prepared[] = [];
    // The store decoded a large event in the task that delivers it (a thousand tools' JSON: tens of
    // milliseconds); its first slice starts in a task of its own rather than add to that one.
    if (pending.length > YIELD_FIRST_ABOVE) {
      await new Promise((resolve) => setImmediate(resolve));
      if (closed) return;
    }
    const pause = slicer();
    for (const change of pending) {
      prepared.push(prepare(change.kind, change.id, change.value, change.at));
      const paused = pause();
      if (paused === undefined) continue;
      await paused;
      if (closed) {
        for (const done of prepared) done.tool?.release();
        return;
      }
    }

    const affected = new Set<string>();
    if (event.type === 'snapshot') {
      const seen = new Set(event.records.map((record) => `${record.kind}/${record.id}`));
      for (const key of [...invalid]) if (!seen.has(key)) invalid.delete(key);
    }
    for (const change of prepared) commit(change, affected);
    if (options.sinks !== undefined) feedSinks(options.sinks, event);
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
    notifyApplied(event);
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

  function notifyApplied(event: FeedEvent) {
    if (appliedListeners.size === 0) return;
    const applied: AppliedEvent =
      event.type === 'snapshot'
        ? { type: 'snapshot', revision: event.revision }
        : {
            type: 'changes',
            revision: event.revision,
            records: event.changes.map((change) => ({
              kind: change.kind,
              id: change.id,
              revision: change.revision,
              deleted: change.type === 'delete',
            })),
          };
    for (const listener of appliedListeners) {
      try {
        listener(applied);
      } catch (error) {
        logger.error('definitions applied listener failed', { error: (error as Error).message });
      }
    }
  }

  function feedSinks(sinks: readonly RecordSink[], event: FeedEvent) {
    for (const sink of sinks) {
      if (event.type === 'snapshot') {
        sink.replace(event.records.filter((record) => record.kind === sink.kind));
        continue;
      }
      for (const change of event.changes) {
        if (change.kind !== sink.kind) continue;
        if (change.type === 'put') sink.put(change.id, change.value, change.revision);
        else sink.delete(change.id);
      }
    }
  }

  function onEvent(event: FeedEvent) {
    queue.push(event);
    if (!draining) void drain();
  }

  async function drain() {
    draining = true;
    try {
      for (let event = queue.shift(); event !== undefined && !closed; event = queue.shift()) {
        try {
          await applyEvent(event);
        } catch (error) {
          logger.error('feed event could not be applied', { revision: event.revision, error: (error as Error).message });
        }
      }
    } finally {
      draining = false;
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
    instancesUsing: (toolId) => [...new Set([...(usedBy.get(toolId) ?? []), ...selectedBy(toolId)])].sort(),
    toolIds: () => tools.keys(),
    get revision() {
      return revision;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onApplied(listener) {
      appliedListeners.add(listener);
      return () => appliedListeners.delete(listener);
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
      closed = true;
      queue.length = 0;
      await subscription?.close();
      for (const waiter of waiters) waiter.resolve(false);
      waiters.clear();
      listeners.clear();
      appliedListeners.clear();
    },
  };
}
